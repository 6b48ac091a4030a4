// Package launch starts the upstream components of a node (etcd, the
// Kubernetes control plane, containerd, kubelet, kube-proxy) the Homeworld
// way: it reads the node's cluster.conf and local.conf, writes the
// configuration files the component needs (kubeconfigs, containerd and CNI
// configuration), and execs the pinned upstream binary with flags that use
// the keysystem's certificates. The service map names these launches;
// cmd/kube-launch runs them.
package launch

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/layout"
)

// Node is what a launch knows about its node.
type Node struct {
	Cluster map[string]string // cluster.conf
	Local   map[string]string // local.conf
	BinDir  string            // where the upstream binaries are
	Images  string            // folder of OCI archives to import into containerd
	Layout  layout.Node       // "/" on real hosts and inside virtual nodes
}

// Load reads the node's configuration files.
func Load(l layout.Node, binDir, imagesDir string) (*Node, error) {
	n := &Node{BinDir: binDir, Images: imagesDir, Layout: l}
	for _, f := range []struct {
		path string
		into *map[string]string
	}{{l.ClusterConf(), &n.Cluster}, {l.LocalConf(), &n.Local}} {
		data, err := os.ReadFile(f.path)
		if err != nil {
			return nil, fmt.Errorf("%w (the keyclient fetches it; is it ready?)", err)
		}
		if *f.into, err = config.ParseConf(string(data)); err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
	}
	return n, nil
}

func (n *Node) get(kv map[string]string, file, key string) string {
	v, ok := kv[key]
	if !ok || v == "" {
		panic(missingKey{file, key})
	}
	return v
}

type missingKey struct{ file, key string }

// cluster and local read required keys; a missing key aborts the launch
// with a message naming it (see Plan).
func (n *Node) cluster(key string) string { return n.get(n.Cluster, "cluster.conf", key) }
func (n *Node) local(key string) string   { return n.get(n.Local, "local.conf", key) }

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
	"kube-state":         kubeState,
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
func Plan(component string, n *Node) (l *Launch, err error) {
	f, ok := Components[component]
	if !ok {
		return nil, fmt.Errorf("unknown component %q (known: %s)", component, strings.Join(Names(), ", "))
	}
	defer func() {
		if r := recover(); r != nil {
			mk, ok := r.(missingKey)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s lacks %s, which %s needs", mk.file, mk.key, component)
		}
	}()
	return f(n)
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

func (n *Node) isMaster() bool { return n.local("KIND") == string(config.KindMaster) }
