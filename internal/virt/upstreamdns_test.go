package virt

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/supervise"
	"homeworld.dev/homeworld/internal/upstreamtest"
)

// inNetns is set in the copy of the test binary that runs in a private
// network namespace.
const inNetns = "HOMEWORLD_TEST_IN_NETNS"

// TestUpstreamResolver runs the upstream resolver as virt up does (our
// coredns, as nobody, its Corefile on stdin) on the loopback address of a
// private network namespace, so nothing it does reaches the machine's
// network, and asks it with dig: the check name resolves, anything else is
// refused.
func TestUpstreamResolver(t *testing.T) {
	if os.Getenv(inNetns) == "" {
		if os.Geteuid() != 0 {
			t.Skip("needs root: a private network namespace and port 53")
		}
		coredns := upstreamtest.Binary(t, "coredns", "coredns")
		cmd := exec.Command("unshare", "--net", "--", os.Args[0], "-test.run", "^TestUpstreamResolver$", "-test.v")
		cmd.Env = append(os.Environ(), inNetns+"="+coredns)
		out, err := cmd.CombinedOutput()
		t.Logf("in a private network namespace:\n%s", out)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}
	coredns := os.Getenv(inNetns)
	// The test's temporary folders are closed to nobody, as a bin folder
	// under /root would be.
	binDir := strings.TrimSuffix(coredns, "/coredns")
	addr := netip.MustParseAddr("127.0.0.1")
	var log strings.Builder
	cmd, err := upstreamDNSCommand(binDir, addr, &log)
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Start()
	cmd.ExtraFiles[0].Close()
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { supervise.Stop(supervise.Process{PID: cmd.Process.Pid, Exited: exited}, 5*time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := waitUpstreamDNS(ctx, addr, exited); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !isUpstreamDNS(cmd.Process.Pid) {
		t.Error("the resolver's process is not recognised as one")
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
	if err != nil || !strings.Contains(string(status), "\nUid:\t65534\t") {
		t.Errorf("the resolver does not run as nobody:\n%s", status)
	}

	dig := func(name, qtype string) string {
		out, err := exec.Command("dig", "@"+addr.String(), "+time=2", "+tries=1", name, qtype).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	if out := dig(UpstreamCheckName, "A"); !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, UpstreamCheckAddr.String()) {
		t.Errorf("%s:\n%s", UpstreamCheckName, out)
	}
	for _, name := range []string{"example.com", "kubernetes.default.svc.cluster.local", "homeworld.test"} {
		if out := dig(name, "A"); !strings.Contains(out, "status: REFUSED") {
			t.Errorf("%s was not refused:\n%s", name, out)
		}
	}
	if !strings.Contains(log.String(), UpstreamCheckName) {
		t.Errorf("the query log lacks %s:\n%s", UpstreamCheckName, log.String())
	}
}
