package nspawn

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// launcher runs systemd-nspawn with its arguments once Boot has moved it
// into the host's cgroups (it waits for a line on fd 3; end of file means
// Boot gave up). It runs in a mount namespace of its own (Boot asks Go for
// one, which makes every mount private first), so nothing systemd-nspawn
// mounts shows on the machine or outlives the host, and with a private
// tmpfs over /run/systemd/nspawn: systemd-nspawn keeps per-machine files
// there, which hosts must not share.
const launcher = `read -r go <&3 || exit 1
exec 3<&-
mkdir -p /run/systemd/nspawn
mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn
exec systemd-nspawn "$@"
`

// nspawnArgs are systemd-nspawn's arguments for h. The host's PID 1 is
// hostInit, which becomes systemd: what --boot would start, and stop, so
// the kill signal is --boot's (systemd halts on it). Without systemd as
// the machine's PID 1 there is no machined to register with and no unit
// to make: --register=no --keep-unit. The host gets every capability the
// machine has and the system calls containerd and runc need (keyrings,
// bpf). The kubelet refuses to start without /dev/kmsg (it watches the
// kernel's log for OOM kills), which a real host has: the machine's is
// bound in, read-only. The host's console goes to the console log,
// read-only; nothing else of the machine (journal, resolv.conf, time zone)
// is copied into it or linked.
func nspawnArgs(h Host) []string {
	return []string{
		"--directory=" + h.Root(),
		"--kill-signal=SIGRTMIN+3",
		"--machine=" + h.Name,
		"--network-namespace-path=" + h.Netns,
		"--register=no", "--keep-unit",
		"--capability=all",
		"--system-call-filter=@keyring bpf",
		"--bind-ro=/dev/kmsg",
		"--console=read-only",
		"--link-journal=no", "--resolv-conf=off", "--timezone=off",
		hostInitPath,
	}
}

// nspawnEnv is systemd-nspawn's whole environment: nothing of the
// caller's. SYSTEMD_NSPAWN_API_VFS_WRITABLE leaves /proc/sys and /sys
// writable, as on a real host (the node's setup writes sysctls).
var nspawnEnv = []string{
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C.UTF-8",
	"SYSTEMD_NSPAWN_API_VFS_WRITABLE=1",
}

// launch starts systemd-nspawn for h detached (a session of its own, so
// it outlives the caller and its terminal) in the cgroups dirs, its output
// to the console log.
func launch(h Host, dirs []string) (*exec.Cmd, error) {
	log, err := os.OpenFile(h.ConsoleLog(), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	cmd := exec.Command("/bin/sh", append([]string{"-c", launcher, "nspawn-launcher"}, nspawnArgs(h)...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.ExtraFiles = []*os.File{r}
	cmd.Env = nspawnEnv
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Unshareflags: syscall.CLONE_NEWNS}
	err = cmd.Start()
	r.Close()
	if err != nil {
		return nil, fmt.Errorf("starting systemd-nspawn: %w", err)
	}
	// Reap it whenever it exits, should this process still be there.
	go cmd.Wait()
	if err := joinCgroups(cmd.Process.Pid, dirs); err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	if _, err := w.Write([]byte("go\n")); err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	return cmd, nil
}
