package setupqueue

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/kubetest"
	"homeworld.dev/homeworld/internal/testutil"
)

// testArrivalWakes runs the daemon with an interval of an hour: an item
// enqueued after its first cycle is applied at once all the same, and so
// is one queued by hand, written under a hidden name and renamed in.
func testArrivalWakes(t *testing.T, api *kubetest.APIServer) {
	bin := buildDaemon(t)
	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", kubetest.FreePort(t))
	var log testutil.Buffer
	cmd := exec.Command(bin, "--queue", dir, "--kubectl", api.KubectlBin, "--kubeconfig", api.Kubeconfig,
		"--listen", listen, "--interval", "1h")
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("setup-queue's log:\n%s", log.String())
		}
	})
	// Its first cycle, on the empty queue, starts with the daemon, before
	// /metrics answers; after that the next is an hour away, so only the
	// watch applies what arrives. (Without it this test fails at its
	// first wait, as tried.)
	testutil.WaitFor(t, time.Minute, "setup-queue's /metrics", func() (bool, error) {
		_, err := get("http://" + listen + "/metrics")
		return err == nil, err
	})
	applied := func(file string) func() (bool, error) {
		return func() (bool, error) {
			_, err := os.Stat(filepath.Join(dir, AppliedDir, file))
			return err == nil, fmt.Errorf("%s not in applied/ (%v)", file, err)
		}
	}
	item, err := Enqueue(dir, "ns", namespace("woken"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Minute, "the enqueued item applied, long before the hour's cycle", applied(filepath.Base(item)))

	byHand := fmt.Sprintf("%d.000000000.config.yaml", time.Now().Unix())
	hidden := filepath.Join(dir, ".writing")
	if err := os.WriteFile(hidden, []byte(configMapIn("woken", "by-hand")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(hidden, filepath.Join(dir, byHand)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Minute, "the item renamed in by hand applied", applied(byHand))
	api.Kubectl(t, "get", "-n", "woken", "configmap", "by-hand")
}
