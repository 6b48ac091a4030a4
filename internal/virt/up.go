package virt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/images"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keyserver"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/supervise"
)

// Options describe the cluster to bring up.
type Options struct {
	Workspace   string
	SetupPath   string
	Config      *config.Config
	Authorities *authority.Set // unsealed: the supervisor's keyserver needs them
	Principal   string         // root admin who admits the nodes
	BinDir      string         // keyserver, keyclient and virtnode
	Timeout     time.Duration  // for the whole bring-up
	Out         io.Writer      // progress
}

// Binaries the virtual cluster runs.
var binaries = []string{"virtnode", "keyserver", "keygateway", "user-grant", "keyclient", "kube-launch", "etcd-metrics-exporter", "auth-monitor", "kube-state-metrics", "setup-queue",
	"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl",
	"flanneld", "homeworld-flannel", "coredns", "flannel-monitor", "dns-monitor", "registry", "registry-front",
	"images/" + images.IndexFile, "pull-monitor", "images/pause.tar", "images/pullcheck.tar", "images/coredns.tar", "images/flannel-monitor.tar", "images/dns-monitor.tar"}

// Preflight checks what up needs before it changes anything.
func Preflight(binDir string) error {
	if os.Geteuid() != 0 {
		return errors.New("the virtual cluster needs root: it creates network namespaces, a bridge and mounts (run spire with sudo)")
	}
	for _, tool := range []string{"ip", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is required (apt-get install iproute2 util-linux)", tool)
		}
	}
	if err := checkHostPackages(); err != nil {
		return err
	}
	for _, ns := range []string{"net", "uts", "mnt"} {
		if _, err := os.Stat("/proc/self/ns/" + ns); err != nil {
			return fmt.Errorf("the kernel lacks %s namespaces (/proc/self/ns/%s): %w", ns, ns, err)
		}
	}
	for _, b := range binaries {
		if st, err := os.Stat(filepath.Join(binDir, b)); err != nil || (st.Mode()&0o111 == 0 && !strings.HasPrefix(b, "images/")) {
			return fmt.Errorf("%s is missing from %s (build everything with scripts/build %s, or pass --bin-dir)", b, binDir, binDir)
		}
	}
	return nil
}

// Up brings the cluster up and waits until every node's keyclient is
// ready. Running it on a cluster that is up does nothing; a failed up
// removes everything it made.
func Up(ctx context.Context, o Options) (err error) {
	if err := Preflight(o.BinDir); err != nil {
		return err
	}
	t, err := NewTopology(o.Workspace, o.Config)
	if err != nil {
		return err
	}
	if err := MarkVirtual(o.Workspace); err != nil {
		return err
	}
	st, err := loadState(t)
	if err != nil {
		return err
	}
	if !st.exists() {
		if err := checkHostOverlap(t, o.Out); err != nil {
			return err
		}
	}
	if st.exists() {
		if allUp(t, st) {
			fmt.Fprintln(o.Out, "the virtual cluster is already up")
			return nil
		}
		fmt.Fprintln(o.Out, "== removing the remains of an earlier virtual cluster")
		if err := Down(t, io.Discard); err != nil {
			return err
		}
		st, _ = loadState(t)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	defer func() {
		if err != nil {
			logs := keepLogs(t)
			fmt.Fprintf(o.Out, "== bring-up failed; removing what it made (node logs kept in %s)\n", logs)
			if derr := Down(t, io.Discard); derr != nil {
				err = fmt.Errorf("%w; cleaning up also failed: %v", err, derr)
			}
		}
	}()
	start := time.Now()
	step := func(format string, args ...any) {
		fmt.Fprintf(o.Out, "== %s (%.1fs)\n", fmt.Sprintf(format, args...), time.Since(start).Seconds())
	}

	step("preparing %d nodes in %s", len(t.Nodes), t.Dir)
	if err := prepareFolders(t, st, o); err != nil {
		return err
	}
	var queued []string
	if len(o.Config.NodesOf(config.KindMaster)) > 0 {
		if queued, err = Enqueue(t, RBACManifests(o.Config)...); err != nil {
			return err
		}
	}
	step("creating network: bridge %s (%s), %d namespaces", t.Bridge, t.Gateway, len(t.Nodes))
	if err := createNetwork(t, st); err != nil {
		return err
	}
	sup := t.nodeByKind(config.KindSupervisor)
	step("starting the supervisor %s (keyserver)", sup.Hostname)
	if err := startNode(t, st, sup, o); err != nil {
		return err
	}
	ksAddr := services.KeyserverAPI.Addr(sup.IP)
	if err := waitReady(ctx, st, sup, "keyserver"); err != nil {
		return fmt.Errorf("keyserver did not come up: %w", err)
	}
	step("keyserver answering at %s; admitting %d nodes with tokens", ksAddr, len(t.Nodes))
	admin, err := access.ConnectDirect(o.Config, o.Authorities, o.Principal, access.Options{})
	if err != nil {
		return err
	}
	defer admin.Close()
	for _, n := range t.Nodes {
		if err := admin.AdmitInto(ctx, n.layout(), n.Hostname); err != nil {
			return err
		}
	}
	for _, n := range t.Nodes {
		if n.Kind != config.KindSupervisor {
			if err := startNode(t, st, n, o); err != nil {
				return err
			}
		}
	}
	step("all node supervisors started; waiting for every keyclient to be ready")
	ready := 0
	for _, n := range t.Nodes {
		if err := waitReady(ctx, st, n, "keyclient"); err != nil {
			return fmt.Errorf("%s did not get its credentials: %w", n.Hostname, err)
		}
		ready++
		fmt.Fprintf(o.Out, "   [%d/%d] %-12s %-10s %-15s ready (%.1fs)\n", ready, len(t.Nodes), n.Hostname, n.Kind, n.IP, time.Since(start).Seconds())
	}
	progress := func(format string, args ...any) {
		fmt.Fprintf(o.Out, "   %s (%.1fs)\n", fmt.Sprintf(format, args...), time.Since(start).Seconds())
	}
	// The images go into the registry while Kubernetes starts; pods are
	// deployed only once they are there.
	pushed := make(chan error, 1)
	go func() { pushed <- pushImages(ctx, t, st, admin, o, progress) }()
	if len(o.Config.NodesOf(config.KindMaster)) > 0 {
		step("credentials in place; waiting for Kubernetes")
		if err := kubeAdmin(ctx, t, admin, o); err != nil {
			return err
		}
		if err := startKubernetes(ctx, t, st, o, pushed, queued, progress); err != nil {
			return err
		}
	} else if err := <-pushed; err != nil {
		return err
	}
	if err := waitServices(ctx, t, st); err != nil {
		return err
	}
	step("virtual cluster up: every service of every node active")
	if nodes, err := Status(t); err == nil {
		PrintTimeline(o.Out, nodes, start)
	}
	return nil
}

// waitServices waits until every node supervisor reports all its services
// active.
func waitServices(ctx context.Context, t *Topology, st *State) error {
	return retry(ctx, func() error {
		nodes, err := status(t, false)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if !n.Running || n.Error != "" {
				return fmt.Errorf("%s: not running (%s)", n.Hostname, n.Error)
			}
			for _, s := range n.Services {
				if s.State != "active" {
					return fmt.Errorf("%s: %s is %s", n.Hostname, s.Name, s.State)
				}
			}
		}
		return nil
	})
}

func (t *Topology) nodeByKind(k config.Kind) NodeTopo {
	for _, n := range t.Nodes {
		if n.Kind == k {
			return n
		}
	}
	return NodeTopo{}
}

// prepareFolders makes each node's folders, its /etc/hosts, the host's
// mount points, and installs the keyserver's files on the supervisor.
func prepareFolders(t *Topology, st *State, o Options) error {
	for _, p := range nodeMounts {
		// Create missing folders one level at a time, recording each, so
		// down removes exactly what up added (deepest first).
		var missing []string
		for d := p; d != "/"; d = filepath.Dir(d) {
			if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
				missing = append([]string{d}, missing...)
			}
		}
		for _, d := range missing {
			if err := os.Mkdir(d, 0o755); err != nil {
				return err
			}
			st.MountPoints = append(st.MountPoints, d)
			if err := st.save(); err != nil {
				return err
			}
		}
	}
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	for _, n := range t.Nodes {
		hosts += fmt.Sprintf("%s\t%s %s\n", n.IP, o.Config.FQDN(n.Node), n.Hostname)
	}
	// containerd finds the registry by its name.
	hosts += fmt.Sprintf("%s\t%s\n", t.nodeByKind(config.KindSupervisor).IP, policy.RegistryName)
	clusterCA, err := o.Authorities.Get(keyapi.ClusterCA)
	if err != nil {
		return err
	}
	for _, n := range t.Nodes {
		for _, p := range nodeMounts {
			if err := os.MkdirAll(n.Folder(p), 0o755); err != nil {
				return err
			}
		}
		if err := os.MkdirAll(n.LogDir(), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(n.HostsFile(), []byte(hosts), 0o644); err != nil {
			return err
		}
		if err := access.InstallTrust(n.layout(), o.Config, clusterCA.Cert); err != nil {
			return err
		}
	}
	setup, err := os.ReadFile(o.SetupPath)
	if err != nil {
		return err
	}
	sup := t.nodeByKind(config.KindSupervisor).layout()
	if err := keyserver.Install(sup, setup, o.Authorities); err != nil {
		return err
	}
	return keyserver.MarkVirtual(sup)
}

func (n NodeTopo) layout() layout.Node { return layout.Node{Root: filepath.Join(n.Dir, "root")} }

func writeNodeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, mode)
}

// startNode starts the node's virtnode in new UTS and mount namespaces
// inside its network namespace, detached from spire.
func startNode(t *Topology, st *State, n NodeTopo, o Options) error {
	args := []string{"--net=/run/netns/" + n.Netns, "--", filepath.Join(o.BinDir, "virtnode"),
		"--setup", o.SetupPath, "--node", n.Hostname, "--bin-dir", o.BinDir,
		"--log-dir", n.LogDir(), "--hosts", n.HostsFile(), "--control", n.ControlSocket()}
	for _, p := range nodeMounts {
		args = append(args, "--bind", n.Folder(p)+":"+p)
	}
	shell, err := n.shellBinds()
	if err != nil {
		return err
	}
	for _, b := range shell {
		args = append(args, "--bind", b)
	}
	logf, err := os.OpenFile(filepath.Join(n.LogDir(), "virtnode.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("nsenter", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUTS | syscall.CLONE_NEWNS,
		Setsid:     true,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", n.Hostname, err)
	}
	st.Nodes[n.Hostname] = cmd.Process.Pid
	go cmd.Wait() // reap it if it dies while spire still runs
	return st.save()
}

// waitReady polls the readiness probe the service map gives service on
// node n until it passes, failing early if the node's process exits.
func waitReady(ctx context.Context, st *State, n NodeTopo, service string) error {
	check := services.MustGet(service).Ready.On(services.Host{Node: n.Node})
	var last error
	for {
		if pid, ok := st.Nodes[n.Hostname]; ok && !supervise.Alive(pid) {
			return fmt.Errorf("%s's node process exited; see %s", n.Hostname, n.LogDir())
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = check.Probe(pctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last answer: %v)", check, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// allUp reports whether every node process recorded in st still runs.
func allUp(t *Topology, st *State) bool {
	if len(st.Nodes) != len(t.Nodes) {
		return false
	}
	for _, pid := range st.Nodes {
		if !supervise.Alive(pid) {
			return false
		}
	}
	return true
}

// keepLogs copies node logs of a failed bring-up next to the workspace so
// down does not erase the evidence.
func keepLogs(t *Topology) string {
	dst := filepath.Join(filepath.Dir(t.Dir), "virt-failed-logs")
	os.RemoveAll(dst)
	for _, n := range t.Nodes {
		files, _ := filepath.Glob(filepath.Join(n.LogDir(), "*.log"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			os.MkdirAll(filepath.Join(dst, n.Hostname), 0o700)
			os.WriteFile(filepath.Join(dst, n.Hostname, filepath.Base(f)), data, 0o600)
		}
	}
	return dst
}
