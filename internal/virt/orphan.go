package virt

import (
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// An orphan is a virtual cluster whose bridge and namespaces outlived every
// process in them: its workspace is gone (a wiped /tmp, a restored machine)
// or spire and its nodes were killed, so no `spire virt down` can find it.
// Left alone it would hold its address range for good.

// orphanSettle is how long a cluster must stay empty before it counts as
// an orphan; a `virt up` in another workspace makes its namespaces a moment
// before it starts processes in them.
const orphanSettle = 2 * time.Second

// orphanMounts are the host's mount points an orphan may have made; a
// test points it at folders of its own.
var orphanMounts = nodeMounts

// reclaimOrphan removes the cluster behind bridge if nothing runs in any of
// its namespaces, and reports whether it did.
func reclaimOrphan(bridge string, out io.Writer) (bool, error) {
	id, ok := strings.CutPrefix(bridge, "hwb")
	if !ok || id == "" {
		return false, nil
	}
	prefix := "hw" + id + "-"
	var spaces []string
	for _, n := range netnsList() {
		if strings.HasPrefix(n, prefix) {
			spaces = append(spaces, n)
		}
	}
	empty := func() bool {
		for _, n := range spaces {
			if len(netnsPIDs(n)) > 0 {
				return false
			}
		}
		return true
	}
	if !empty() {
		return false, nil
	}
	time.Sleep(orphanSettle)
	if !empty() {
		return false, nil
	}
	fmt.Fprintf(out, "== removing an orphaned virtual cluster (bridge %s, %d namespaces, no process left in any)\n", bridge, len(spaces))
	for _, n := range spaces {
		if err := ip("netns", "del", n); err != nil {
			return false, err
		}
	}
	// Veths whose peers lived in those namespaces vanish with them, but
	// asynchronously; delete what is still enslaved to the bridge.
	if lines, err := ipOut("-o", "link", "show", "master", bridge); err == nil {
		for _, line := range strings.Split(lines, "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			if linkExists(name) {
				if err := ip("link", "del", name); err != nil && linkExists(name) {
					return false, err
				}
			}
		}
	}
	if err := ip("link", "del", bridge); err != nil && linkExists(bridge) {
		return false, err
	}
	// Its up made the host's mount points if they were missing; which ones
	// was in the lost state file. Empty ones are remains (a host that uses
	// them for real has files in them) unless another cluster's nodes have
	// them as mount points: removing them would detach those mounts.
	if otherClusters() {
		return true, nil
	}
	for _, p := range slices.Backward(orphanMounts) {
		if os.Remove(p) == nil {
			fmt.Fprintf(out, "removed the empty mount point %s\n", p)
		}
	}
	return true, nil
}

// otherClusters reports whether any Homeworld bridge remains.
func otherClusters() bool {
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if strings.HasPrefix(ifc.Name, "hwb") {
			return true
		}
	}
	return false
}
