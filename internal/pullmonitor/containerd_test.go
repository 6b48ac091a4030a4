package pullmonitor_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"homeworld.dev/homeworld/internal/pullmonitor"
	"homeworld.dev/homeworld/internal/testutil"
)

// containerdConfig is a node's containerd configuration (see
// internal/launch) with every path in dir, so the test's containerd shares
// nothing with another on the machine, and registry hosts configured from
// dir/certs.d. No CNI configuration: the check's containers need none. Its
// runc keeps its state in dir/runc, which the monitor's ctr is told too.
const containerdConfig = `version = 2
root = "%[1]s/root"
state = "%[1]s/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "%[1]s/containerd.sock"
[ttrpc]
  address = "%[1]s/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "%[1]s/opt"
[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "%[1]s/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "%[1]s/cni/bin"
    conf_dir = "%[1]s/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "%[1]s/certs.d"
`

// hostsConfig sends pulls of a registry's images to the server at
// 127.0.0.1:PORT, trusting the CA in a file, as containerd reads it from
// certs.d/NAME/hosts.toml. containerd 1.6.20 refuses a file without a host
// table; the server's own settings (top level) trust the CA too, so that
// after the host has answered "not found" the fallback to the server fails
// the same way instead of on TLS.
const hostsConfig = `server = "https://%[1]s"
ca = "%[2]s"

[host."https://%[1]s"]
  capabilities = ["pull", "resolve"]
  ca = "%[2]s"
`

// testContainerd is a real containerd with runc, started by the test.
type testContainerd struct {
	Socket   string
	RuncRoot string
	Conn     *grpc.ClientConn
}

// startContainerd runs containerd with its state in dir and the registry
// named registryName served by reg, and waits until its CRI service is
// ready. At the end of the test it removes every container and sandbox
// left and stops containerd.
func startContainerd(t *testing.T, dir, registryName string, reg *testRegistry) *testContainerd {
	t.Helper()
	certs := filepath.Join(dir, "certs.d", registryName)
	for _, d := range []string{certs, filepath.Join(dir, "cni", "bin"), filepath.Join(dir, "cni", "net.d")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(certs, "hosts.toml"), fmt.Appendf(nil, hostsConfig, reg.Host, reg.CAFile), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "containerd.toml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, containerdConfig, dir), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "containerd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close() // the child has its own copy
	cmd := exec.Command("containerd", "--config", conf)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// containerd must not outlive a test process that dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()

	c := &testContainerd{Socket: filepath.Join(dir, "containerd.sock"), RuncRoot: filepath.Join(dir, "runc")}
	c.Conn, err = pullmonitor.Dial(c.Socket)
	if err != nil {
		t.Fatal(err)
	}
	rt := runtimeapi.NewRuntimeServiceClient(c.Conn)
	t.Cleanup(func() {
		c.removeAll(t, rt)
		c.Conn.Close()
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			if log, err := os.ReadFile(logPath); err == nil {
				t.Logf("containerd's log:\n%s", tail(log, 8000))
			}
		}
	})
	testutil.WaitFor(t, time.Minute, "containerd's CRI runtime to be ready", func() (bool, error) {
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("containerd exited:\n%s", tail(log, 4000))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := rt.Status(ctx, &runtimeapi.StatusRequest{})
		if err != nil {
			return false, err
		}
		for _, cond := range st.GetStatus().GetConditions() {
			if cond.GetType() == runtimeapi.RuntimeReady {
				return cond.GetStatus(), fmt.Errorf("RuntimeReady is %v: %s", cond.GetStatus(), cond.GetMessage())
			}
		}
		return false, fmt.Errorf("no RuntimeReady condition")
	})
	return c
}

// removeAll leaves nothing running for containerd's shims to keep alive,
// whatever a failed test left: no container in the check's namespace, no
// CRI sandbox.
func (c *testContainerd) removeAll(t *testing.T, rt runtimeapi.RuntimeServiceClient) {
	ids, err := c.Ctr("containers", "list", "--quiet")
	if err != nil {
		t.Logf("listing containers to remove: %v", err)
	}
	for _, id := range strings.Fields(ids) {
		c.Ctr("tasks", "delete", "--force", id)
		if _, err := c.Ctr("containers", "delete", id); err != nil {
			t.Errorf("removing container %s at the end: %v", id, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Logf("listing sandboxes to remove: %v", err)
		return
	}
	for _, sb := range l.GetItems() {
		rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.GetId()})
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.GetId()}); err != nil {
			t.Errorf("removing sandbox %s at the end: %v", sb.GetId(), err)
		}
	}
}

// Ctr runs ctr against the test's containerd, in the check's namespace,
// and returns its output, or an error with what it said.
func (c *testContainerd) Ctr(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, pullmonitor.DefaultCtr, append([]string{"--address", c.Socket, "--namespace", pullmonitor.CtrNamespace}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ctr %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
