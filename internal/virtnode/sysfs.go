package virtnode

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// hostCgroups is where the host's cgroup hierarchies wait while /sys is
// replaced: under the node's own /run, so nothing else sees them.
const hostCgroups = "/run/.host-cgroup"

// ownSysfs gives the node a sysfs of its own network namespace. sysfs shows
// the network devices of the namespace that mounted it, so under the host's
// /sys every node listed the host's bridge and every node's veth end
// (and its node exporter reported them) instead of its own eth0, cni0 and
// flannel.1. The host's cgroup hierarchies are moved onto the new /sys:
// containerd and the kubelet need them (a bare fresh sysfs is what `ip
// netns exec` gives, and containerd cannot run there). The mount
// namespace must be private already.
func ownSysfs() error {
	if err := os.MkdirAll(hostCgroups, 0o700); err != nil {
		return err
	}
	if err := unix.Mount("/sys/fs/cgroup", hostCgroups, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("keeping the cgroup hierarchies: %w", err)
	}
	if err := unix.Unmount("/sys", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmounting the host's /sys: %w", err)
	}
	if err := unix.Mount("sysfs", "/sys", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting the node's /sys: %w", err)
	}
	if err := unix.Mount(hostCgroups, "/sys/fs/cgroup", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("putting the cgroup hierarchies back under /sys: %w", err)
	}
	return os.Remove(hostCgroups)
}
