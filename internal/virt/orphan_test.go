package virt

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/testutil"
)

// TestOrphanReclaimed leaves behind, in a private network namespace, what a
// killed virtual cluster leaves (its bridge holding the node range, a named
// namespace with a veth on it, no process): the overlap check removes it and
// says so. The same remains with a process still inside are a live cluster
// and are refused, naming the bridge.
func TestOrphanReclaimed(t *testing.T) {
	if _, inside := testutil.InPrivateNetns(t, func() string { return "" }); !inside {
		return
	}
	cfg, _, err := config.Parse("setup.yaml", []byte(Setup(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	top, err := NewTopology(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	// An ID no workspace hashes to, so the names are this test's alone.
	const bridge, netns, veth = "hwbtest0rph", "hwtest0rph-node", "hwvtest0rph"
	leave := func() {
		run("link", "add", bridge, "type", "bridge")
		run("addr", "add", top.Gateway.String(), "dev", bridge)
		run("link", "set", bridge, "up")
		run("netns", "add", netns)
		run("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
		run("link", "set", veth, "master", bridge)
	}
	t.Cleanup(func() {
		ip("netns", "del", netns)
		ip("link", "del", bridge)
	})

	// Remains of its mount points: an empty one goes, one in use stays.
	mounts := []string{filepath.Join(t.TempDir(), "empty"), filepath.Join(t.TempDir(), "used")}
	for _, m := range mounts {
		if err := os.Mkdir(m, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(mounts[1], "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	orphanMounts = mounts
	t.Cleanup(func() { orphanMounts = nodeMounts })

	leave()
	sleeper := exec.Command("ip", "netns", "exec", netns, "sleep", "600")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the process in "+netns, func() (bool, error) { return len(netnsPIDs(netns)) > 0, nil })
	var out strings.Builder
	err = checkHostOverlap(top, &out)
	if err == nil || !strings.Contains(err.Error(), "in use by another Homeworld virtual cluster (bridge "+bridge+")") {
		t.Errorf("a live cluster's range: %v", err)
	}
	if !linkExists(bridge) || !slices.Contains(netnsList(), netns) {
		t.Fatal("a live cluster's bridge or namespace was removed")
	}

	sleeper.Process.Kill()
	sleeper.Wait()
	out.Reset()
	if err := checkHostOverlap(top, &out); err != nil {
		t.Fatalf("an orphan's range: %v", err)
	}
	if !strings.Contains(out.String(), "orphaned virtual cluster (bridge "+bridge) {
		t.Errorf("the removal was not reported: %q", out.String())
	}
	if linkExists(bridge) || linkExists(veth) || slices.Contains(netnsList(), netns) {
		t.Error("the orphan's bridge, veth or namespace is still there")
	}
	if _, err := os.Stat(mounts[0]); !os.IsNotExist(err) {
		t.Errorf("the empty mount point remains: %v", err)
	}
	if _, err := os.Stat(mounts[1]); err != nil {
		t.Errorf("the mount point in use was removed: %v", err)
	}
}
