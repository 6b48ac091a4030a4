package launch

import (
	"os"
	"path/filepath"
	"strings"
)

// CgroupMount is where the cgroup hierarchies are.
const CgroupMount = "/sys/fs/cgroup"

// prepareCgroups creates the kubelet's cgroup root in every cgroup v1
// hierarchy (the kubelet refuses a root that does not exist), giving the
// cpuset one its parent's CPUs and memory nodes.
func prepareCgroups(root string) error {
	entries, err := os.ReadDir(CgroupMount)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "unified" {
			continue
		}
		// Only mounted hierarchies: a container's cgroup tmpfs can hold
		// empty mount points for hierarchies it does not have (nspawn's
		// "cpu,cpuacct" where the host mounts cpu and cpuacct apart).
		if _, err := os.Stat(filepath.Join(CgroupMount, e.Name(), "cgroup.procs")); err != nil {
			continue
		}
		dir := filepath.Join(CgroupMount, e.Name(), root)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if e.Name() == "cpuset" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				parent, err := os.ReadFile(filepath.Join(CgroupMount, e.Name(), f))
				if err != nil {
					return err
				}
				cur, _ := os.ReadFile(filepath.Join(dir, f))
				if strings.TrimSpace(string(cur)) == "" {
					if err := os.WriteFile(filepath.Join(dir, f), parent, 0o644); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}
