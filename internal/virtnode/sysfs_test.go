package virtnode

import (
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/testutil"
)

// TestOwnSysfs: in fresh network and mount namespaces, as a virtual node,
// /sys/class/net lists the namespace's own devices after ownSysfs, and the
// cgroup hierarchies are still mounted under /sys/fs/cgroup.
func TestOwnSysfs(t *testing.T) {
	if _, inside := testutil.InPrivateNetnsAndMounts(t, func() string { return "" }); !inside {
		return
	}
	hostCgroupMounts := cgroupMounts(t)
	if len(hostCgroupMounts) == 0 {
		t.Fatal("no cgroup hierarchy is mounted under /sys/fs/cgroup here; the test proves nothing")
	}
	if out, err := exec.Command("ip", "link", "add", "veth5e1f", "type", "veth", "peer", "name", "eth0").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v\n%s", err, out)
	}
	if err := ownSysfs(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	var devs []string
	for _, e := range entries {
		devs = append(devs, e.Name())
	}
	sort.Strings(devs)
	if strings.Join(devs, " ") != "eth0 lo veth5e1f" {
		t.Errorf("/sys/class/net lists %q, want the namespace's own eth0, lo and veth5e1f", devs)
	}
	if got := cgroupMounts(t); strings.Join(got, " ") != strings.Join(hostCgroupMounts, " ") {
		t.Errorf("cgroup mounts under /sys/fs/cgroup after: %q, before: %q", got, hostCgroupMounts)
	}
	if _, err := os.Stat(hostCgroups); !os.IsNotExist(err) {
		t.Errorf("%s is left behind: %v", hostCgroups, err)
	}
}

// cgroupMounts lists the mount points of cgroup file systems.
func cgroupMounts(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if ok && len(f) > 4 && strings.HasPrefix(post, "cgroup") {
			out = append(out, f[4])
		}
	}
	sort.Strings(out)
	return out
}
