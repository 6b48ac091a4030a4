package nspawn

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// enter runs argv inside the host whose PID 1 is leader: in all its
// namespaces, with its root, and returns its standard output. It is how
// Boot asks the host's systemd whether it has booted, before SSH is
// known to work.
func enter(ctx context.Context, leader int, argv ...string) ([]byte, error) {
	args := append([]string{"--target", strconv.Itoa(leader),
		"--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup", "--root", "--wd", "--"}, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s in the host: %v: %s", strings.Join(argv, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// bootPoll is how often Boot looks again at a host that is starting: the
// checks are cheap and a host boots in seconds.
const bootPoll = 100 * time.Millisecond

// findLeader waits for systemd-nspawn to start the host's PID 1: its child
// in a PID namespace other than its own.
func findLeader(ctx context.Context, st *state) (int, error) {
	own, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.PID))
	if err != nil {
		return 0, err
	}
	for {
		for _, pid := range children(st.PID) {
			if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && ns != own {
				return pid, nil
			}
		}
		if !st.alive() {
			return 0, fmt.Errorf("systemd-nspawn exited before starting the host")
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("waiting for systemd-nspawn to start the host: %w", ctx.Err())
		case <-time.After(bootPoll):
		}
	}
}

// children lists the children of every thread of pid.
func children(pid int) []int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var out []int
	for _, t := range tasks {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		for _, f := range strings.Fields(string(data)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// waitBooted waits for the host's systemd to finish booting and returns
// its state (running or degraded) and, if degraded, its failed units.
// Until systemd listens, systemctl fails to connect: that is retried.
func waitBooted(ctx context.Context, st *state) (string, []string, error) {
	var last string
	for {
		out, err := enter(ctx, st.Leader, "systemctl", "is-system-running", "--wait")
		state := strings.TrimSpace(string(out))
		switch state {
		case "running":
			return state, nil, nil
		case "degraded":
			failed, err := failedUnits(ctx, st.Leader)
			return state, failed, err
		case "maintenance", "stopping":
			return "", nil, fmt.Errorf("the host's systemd is %s", state)
		}
		last = state
		if err != nil {
			last = err.Error()
		}
		if !st.alive() {
			return "", nil, fmt.Errorf("systemd-nspawn exited while the host booted")
		}
		select {
		case <-ctx.Done():
			return "", nil, fmt.Errorf("waiting for the host's systemd to boot (last: %s): %w", last, ctx.Err())
		case <-time.After(bootPoll):
		}
	}
}

// failedUnits lists the units that failed in the host.
func failedUnits(ctx context.Context, leader int) ([]string, error) {
	out, err := enter(ctx, leader, "systemctl", "list-units", "--state=failed", "--plain", "--no-legend", "--no-pager")
	if err != nil {
		return nil, err
	}
	var units []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			units = append(units, f[0])
		}
	}
	return units, nil
}
