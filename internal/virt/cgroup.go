package virt

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"homeworld.dev/homeworld/internal/launch"
)

// cgroupDirs lists a node's pod cgroups in every hierarchy, deepest first.
func cgroupDirs(host string) []string {
	var dirs []string
	tops, _ := filepath.Glob(filepath.Join(launch.CgroupMount, "*", launch.CgroupRoot(host)))
	for _, top := range tops {
		filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	return dirs
}

// removeCgroups kills every process in a node's pod cgroups (containers
// live in network namespaces of their own, so only their cgroups find them)
// and removes the cgroups.
func removeCgroups(host string) error {
	dirs := cgroupDirs(host)
	if len(dirs) == 0 {
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		alive := 0
		for _, d := range dirs {
			data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					syscall.Kill(pid, syscall.SIGKILL)
					alive++
				}
			}
		}
		if alive == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var firstErr error
	for _, d := range dirs {
		if err := syscall.Rmdir(d); err != nil && !os.IsNotExist(err) && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}
