package virt

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"homeworld.dev/homeworld/internal/supervise"
)

// Down removes everything the virtual cluster of t made: node processes
// (SIGTERM, then SIGKILL), anything else left in its namespaces, the
// namespaces, interfaces, the bridge, host mount points it created and its
// folder. It is safe to run any number of times.
func Down(t *Topology, out io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("the virtual cluster needs root to take it down (run spire with sudo)")
	}
	st, err := loadState(t)
	if err != nil {
		return err
	}
	var errs []error
	// Node processes stop their services in order on SIGTERM; all at once,
	// so the slowest sets the pace.
	var stopping sync.WaitGroup
	for host, pid := range st.Nodes {
		if isVirtnode(pid) {
			fmt.Fprintf(out, "stopping %s (pid %d)\n", host, pid)
			stopping.Go(func() { supervise.Stop(supervise.Process{PID: pid}, nodeStopGrace) })
		}
	}
	stopping.Wait()
	if st.Mode == ModeSystemd {
		stopHosts(t, out)
	}
	stopBranchServer(st)
	stopUpstreamDNS(st, out)
	// Namespaces, including any not in the state file (spire died early).
	names := append([]string(nil), st.Netns...)
	for _, n := range netnsList() {
		if strings.HasPrefix(n, "hw"+t.ID+"-") && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		if !slices.Contains(netnsList(), n) {
			continue
		}
		killNetns(n)
		if err := ip("netns", "del", n); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(out, "removed namespace %s\n", n)
		}
	}
	for _, n := range t.Nodes {
		if err := removeCgroups(n.Hostname); err != nil {
			errs = append(errs, fmt.Errorf("removing %s's cgroups: %w", n.Hostname, err))
		}
	}
	links := append([]string(nil), st.Veths...)
	for _, n := range t.Nodes {
		links = append(links, n.Veth)
	}
	links = append(links, t.Bridge)
	for _, l := range links {
		if linkExists(l) {
			// A veth vanishes on its own, asynchronously, once its peer's
			// namespace is gone; losing that race is not an error.
			if err := ip("link", "del", l); err != nil && linkExists(l) {
				errs = append(errs, err)
			} else {
				fmt.Fprintf(out, "removed interface %s\n", l)
			}
		}
	}
	for i := len(st.MountPoints) - 1; i >= 0; i-- {
		p := st.MountPoints[i]
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing mount point %s: %w", p, err))
		}
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(t.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// switchOff kills what is left of a stopped node, as power-off would:
// every process in its network namespace (containerd's shims among them)
// and in its pod cgroups (the containers, in namespaces of their own). It
// removes the pod cgroups, so that the node's next kubelet does not spend
// its first half minute on containers that no longer exist; the pods come
// back as after a reboot, from the API.
func switchOff(n NodeTopo) error {
	killNetns(n.Netns)
	return removeCgroups(n.Hostname)
}

// killNetns kills every process in a network namespace and gives them a
// moment to leave it.
func killNetns(netns string) {
	for _, p := range netnsPIDs(netns) {
		if pid, err := strconv.Atoi(p); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	waitEmpty(netns)
}

// waitEmpty gives killed processes a moment to leave the namespace.
func waitEmpty(netns string) {
	deadline := time.Now().Add(5 * time.Second)
	for len(netnsPIDs(netns)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// isVirtnode guards against signalling a recycled PID.
func isVirtnode(pid int) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(string(cmdline), "virtnode") && supervise.Alive(pid)
}
