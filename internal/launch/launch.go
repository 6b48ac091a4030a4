// Package launch starts the upstream components of a node (etcd, the
// Kubernetes control plane, containerd, kubelet, kube-proxy) the Homeworld
// way: it reads the node's cluster.conf and local.conf, writes the
// configuration files the component needs (kubeconfigs, containerd and CNI
// configuration), and execs the pinned upstream binary with flags that use
// the keysystem's certificates. The service map names these launches;
// cmd/kube-launch runs them.
package launch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/services"
)

// Node is what a launch knows about its node.
type Node struct {
	Cluster nodeconf.Cluster
	Local   nodeconf.Local
	BinDir  string      // where the upstream binaries are
	Layout  layout.Node // "/" on real hosts and inside virtual nodes
}

// Load reads the node's configuration files; a missing or malformed key
// fails here, naming the file and the key, before any component starts.
func Load(l layout.Node, binDir string) (*Node, error) {
	n := &Node{BinDir: binDir, Layout: l}
	var err error
	if n.Cluster, err = nodeconf.LoadCluster(l.ClusterConf()); err != nil {
		return nil, fetchedHint(err)
	}
	if n.Local, err = nodeconf.LoadLocal(l.LocalConf()); err != nil {
		return nil, fetchedHint(err)
	}
	return n, nil
}

func fetchedHint(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w (the keyclient fetches it; is it ready?)", err)
	}
	return err
}

// ip is the node's own address, which its components listen on.
func (n *Node) ip() string { return n.Local.IP.String() }

// Launch is a planned start: files to write, then the program to exec.
type Launch struct {
	Files   map[string]string // production path -> content
	Prepare func() error      // runs after the files are written, before exec
	Argv    []string
	Env     []string
}

// Components lists what can be launched.
var Components = map[string]func(*Node) (*Launch, error){
	"etcd":               etcd,
	"apiserver":          apiserver,
	"controller-manager": controllerManager,
	"scheduler":          scheduler,
	"containerd":         containerd,
	"kubelet":            kubelet,
	"proxy":              proxy,
	"node-exporter":      nodeExporter,
	"etcd-exporter":      etcdExporter,
	"prometheus":         prometheus,
	"sshd":               sshd,
	"kube-state-metrics": kubeState,
	"flannel":            flannel,
	"registry":           registry,
	"pull-monitor":       pullMonitor,
	"setup-queue":        setupQueue,
}

// Names returns the component names, sorted.
func Names() []string {
	var out []string
	for k := range Components {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Plan prepares the launch of component.
func Plan(component string, n *Node) (*Launch, error) {
	f, ok := Components[component]
	if !ok {
		return nil, fmt.Errorf("unknown component %q (known: %s)", component, strings.Join(Names(), ", "))
	}
	l, err := f(n)
	if err != nil {
		return nil, err
	}
	if s, ok := services.ForLaunch(component); ok && s.GoMemLimit > 0 {
		l.Env = append(l.Env, fmt.Sprintf("GOMEMLIMIT=%dMiB", s.GoMemLimit))
		if !s.HeldByLimit {
			l.Env = append(l.Env, fmt.Sprintf("GOGC=%d", services.GoGC))
		}
	}
	return l, nil
}

// Exec writes the launch's files and replaces this process with the
// component.
func (n *Node) Exec(l *Launch) error {
	for path, content := range l.Files {
		full := n.Layout.Path(path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return err
		}
	}
	if l.Prepare != nil {
		if err := l.Prepare(); err != nil {
			return err
		}
	}
	return syscall.Exec(l.Argv[0], l.Argv, append(os.Environ(), l.Env...))
}

func (n *Node) bin(name string) string { return filepath.Join(n.BinDir, name) }

func (n *Node) isMaster() bool { return n.Local.Kind == config.KindMaster }
