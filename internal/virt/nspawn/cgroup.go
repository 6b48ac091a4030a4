package nspawn

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Each host gets a cgroup of its own in every hierarchy, under the cgroup
// of the process that boots it. systemd-nspawn puts itself and the host in
// "supervisor" and "payload" below the cgroup it starts in, so two hosts
// started from one cgroup would share them; and the host's cgroup
// namespace is rooted there, so what runs inside (containerd, runc, the
// kubelet's pods) makes its cgroups in the host's subtree, not beside
// another host's. The subtree is also how Status and Stop find every
// process of the host.

// cgroupKey names the host's cgroups: its name, for people reading
// /proc/PID/cgroup, and a hash of its folder, since hosts of two clusters
// may share a name.
func cgroupKey(h Host) string {
	dir, _ := filepath.Abs(h.Dir)
	sum := sha256.Sum256([]byte(dir))
	return "hwnspawn-" + h.Name + "-" + hex.EncodeToString(sum[:4])
}

// makeCgroups creates the host's cgroup in every hierarchy mounted on the
// machine and returns their folders.
func makeCgroups(h Host) ([]string, error) {
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, parent := range own {
		dir := filepath.Join(parent, cgroupKey(h))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		// A new cpuset has no CPUs and no memory nodes, and no process may
		// join it until it has: give it its parent's.
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			cur, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil || strings.TrimSpace(string(cur)) != "" {
				continue
			}
			v, err := os.ReadFile(filepath.Join(parent, f))
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
				return nil, err
			}
		}
		dirs = append(dirs, dir)
	}
	return dirs, nil
}

// joinCgroups moves process pid into the cgroups dirs.
func joinCgroups(pid int, dirs []string) error {
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("moving the host into %s: %w", d, err)
		}
	}
	return nil
}

// ownCgroups returns the folder of this process's cgroup in every cgroup
// hierarchy mounted (v1 controllers, named v1 hierarchies, cgroup2).
func ownCgroups() ([]string, error) {
	paths, err := procCgroups()
	if err != nil {
		return nil, err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var dirs []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 5 || len(fields) < sep+4 {
			continue
		}
		root, mnt, fstype, super := fields[3], unescape(fields[4]), fields[sep+1], fields[sep+3]
		var key string
		switch fstype {
		case "cgroup2":
			key = ""
		case "cgroup":
			key = hierarchyKey(super)
		default:
			continue
		}
		path, ok := paths[key]
		if !ok || seen[key] {
			continue
		}
		rel, ok := strings.CutPrefix(path, root)
		if !ok {
			continue // this mount shows another part of the hierarchy
		}
		seen[key] = true
		dirs = append(dirs, filepath.Join(mnt, rel))
	}
	return dirs, sc.Err()
}

// procCgroups maps each hierarchy of /proc/self/cgroup, by its sorted
// controllers and names ("" for cgroup2), to this process's cgroup in it.
func procCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		out[hierarchyKey(parts[1])] = parts[2]
	}
	return out, nil
}

// hierarchyKey is a v1 hierarchy's controllers and name, sorted, from
// /proc/self/cgroup's list or a mount's super options (which also carry
// rw and the like).
func hierarchyKey(list string) string {
	var keep []string
	for _, o := range strings.Split(list, ",") {
		switch {
		case o == "rw" || o == "ro" || o == "" || strings.HasPrefix(o, "release_agent=") ||
			o == "clone_children" || o == "noprefix" || o == "xattr" || o == "cpuset_v2_mode":
		default:
			keep = append(keep, o)
		}
	}
	sort.Strings(keep)
	return strings.Join(keep, ",")
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupTree lists every cgroup folder in the subtrees of dirs, deepest
// first, the order they can be removed in.
func cgroupTree(dirs []string) []string {
	var all []string
	for _, top := range dirs {
		filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				all = append(all, p)
			}
			return nil
		})
	}
	sort.SliceStable(all, func(i, j int) bool { return strings.Count(all[i], "/") > strings.Count(all[j], "/") })
	return all
}

// cgroupPIDs returns every process in the subtrees of dirs.
func cgroupPIDs(dirs []string) []int {
	seen := map[int]bool{}
	var pids []int
	for _, d := range cgroupTree(dirs) {
		data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		}
	}
	sort.Ints(pids)
	return pids
}

// removeCgroups removes the subtrees of dirs, which must hold no process.
func removeCgroups(dirs []string) error {
	var first error
	for _, d := range cgroupTree(dirs) {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) && first == nil {
			first = err
		}
	}
	return first
}
