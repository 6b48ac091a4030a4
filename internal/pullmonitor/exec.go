package pullmonitor

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

const (
	// Program is the command run in the image, with the token.
	Program = "/usr/bin/pullcheck"
	// ContainerPrefix starts the id of every container the check runs:
	// a container of containerd's k8s.io namespace whose id starts with
	// it is one of the check's, and one that no cycle is running is left
	// over from a run that was killed, to be removed.
	ContainerPrefix = "pullcheck-"
	// CtrNamespace is the containerd namespace the check's containers are
	// made in: the CRI plugin's, where the pull put the image (containerd
	// keeps images per namespace).
	CtrNamespace = "k8s.io"
)

// pollInterval is how often a running ctr is looked at to see whether it
// has created the container's task yet.
const pollInterval = 50 * time.Millisecond

// outputLimit bounds what is kept of each of the container's streams: a
// run that printed more has failed anyway.
const outputLimit = 16 << 10

// Greeting is what pullcheck prints for token.
func Greeting(token string) string { return "hello container world [" + token + "]" }

// exec runs the pulled image (ref, as the runtime named it) as a plain
// containerd container, with ctr, and checks its output; it removes the
// container whatever happened.
//
// The container is made in the CRI plugin's namespace, where the image
// is, but without the CRI plugin: it is no pod sandbox and no CRI
// container, so the CRI plugin never lists it, and the kubelet, which
// removes every sandbox that is none of its pods', never sees it. It has
// a network namespace of its own that nothing connects (ctr run without
// --net-host or --cni), so no CNI is involved and the image, whatever the
// registry served, reaches no network.
func (m *Monitor) exec(ctx context.Context, ref string) (Step, error) {
	ctx, cancel := context.WithTimeout(ctx, m.ExecTimeout)
	defer cancel()
	// ctr's I/O FIFOs and the task's pid file go here. containerd's shim
	// opens the FIFOs by path, so this must be a folder containerd sees
	// too: pull-monitor runs unconfined, without a private /tmp.
	dir, err := os.MkdirTemp("", "pullcheck-")
	if err != nil {
		return StepRun, err
	}
	defer os.RemoveAll(dir)
	id := ContainerPrefix + randomHex()
	step, err := m.run(ctx, dir, id, ref)
	if err != nil {
		if cerr := m.remove(ctx, id, true); cerr != nil {
			m.Logf("%s: removing container %s: %v", m.Image, id, cerr)
		}
		return step, err
	}
	// ctr run --rm deleted the task, or it would have failed; but it
	// ignores a failure to delete the container, so look.
	left, err := m.containerExists(ctx, id)
	if err != nil {
		return StepCleanup, err
	}
	if left {
		if err := m.remove(ctx, id, false); err != nil {
			return StepCleanup, err
		}
	}
	return "", nil
}

// run runs ctr run for the container id and checks what it printed. dir is
// the run's own folder, for ctr's FIFOs and the pid file.
func (m *Monitor) run(ctx context.Context, dir, id, ref string) (Step, error) {
	token := fmt.Sprintf("!%d!", rand.Uint64())
	pidFile := filepath.Join(dir, "pid")
	// --rm deletes the task and the container once it has exited. The
	// snapshotter is the CRI plugin's, which the pull unpacked the image
	// into. The FIFOs go in dir rather than /run/containerd/fifo, so a
	// killed ctr leaves none behind. The pid file is written once the
	// task is created, before it starts.
	args := []string{"run", "--rm", "--snapshotter", m.Snapshotter,
		"--fifo-dir", filepath.Join(dir, "fifo"), "--pid-file", pidFile}
	if m.RuncRoot != "" {
		args = append(args, "--runc-root", m.RuncRoot)
	}
	if m.CgroupParent != "" {
		args = append(args, "--cgroup", path.Join(m.CgroupParent, id))
	}
	args = append(args, ref, id, Program, token)
	cmd := m.ctrCommand(args...)
	stdout, stderr := &tailBuffer{max: outputLimit}, &tailBuffer{max: outputLimit}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return StepRun, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// stop kills ctr, which leaves the container as it is, for remove.
	stop := func() {
		cmd.Process.Kill()
		<-done
	}

	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	poll := tick.C
	var exitTimeout <-chan time.Time // once the task is created
	created := func() bool {
		_, err := os.Stat(pidFile)
		return err == nil
	}
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-poll:
			if created() {
				poll = nil
				t := time.NewTimer(m.ExitTimeout)
				defer t.Stop()
				exitTimeout = t.C
			}
		case <-exitTimeout:
			stop()
			return StepWait, fmt.Errorf("the container did not exit within %v of being created", m.ExitTimeout)
		case <-ctx.Done():
			stop()
			if created() {
				return StepWait, fmt.Errorf("the container did not exit before the run's end: %w", context.Cause(ctx))
			}
			return StepRun, fmt.Errorf("ctr did not create the container's task before the run's end (ctr's stderr %q): %w", stderr.String(), context.Cause(ctx))
		}
	}

	code := 0
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() < 0 {
			return StepRun, fmt.Errorf("ctr run: %w (stderr %q)", err, stderr.String())
		}
		// ctr exits with the container's exit code, adding nothing to its
		// output; a failure of its own it reports on a last line of
		// stderr, "ctr: …", exiting 1.
		if msg, ok := ctrFailure(stderr.String()); ok && exit.ExitCode() == 1 {
			return StepRun, fmt.Errorf("ctr run: %s", msg)
		}
		code = exit.ExitCode()
	}
	out := strings.TrimSuffix(stdout.String(), "\n")
	want := Greeting(token)
	if out != want || code != 0 {
		return StepCompare, fmt.Errorf("printed %q, stderr %q, exit code %d; want %q and exit code 0",
			out, strings.TrimSuffix(stderr.String(), "\n"), code, want)
	}
	return "", nil
}

// ctrFailure is the error ctr reported on the last line of stderr, if it
// did.
func ctrFailure(stderr string) (string, bool) {
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	return strings.CutPrefix(lines[len(lines)-1], "ctr: ")
}

// remove removes the check's container id, and first its task if withTask,
// killing it: whatever a run left. Neither existing is no error. It has
// time of its own: a cycle cut short (a timeout, the daemon stopping) must
// still leave nothing behind.
func (m *Monitor) remove(ctx context.Context, id string, withTask bool) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.CleanupTimeout)
	defer cancel()
	if withTask {
		// The kill is for a task still running; its failure is no
		// reason not to try the delete, which --force makes kill and
		// wait for the task too.
		if err := m.ctr(ctx, "tasks", "kill", "--signal", "SIGKILL", id); err != nil && !isNotFound(err) {
			m.Logf("%s: killing task %s: %v", m.Image, id, err)
		}
		if err := m.ctr(ctx, "tasks", "delete", "--force", id); err != nil && !isNotFound(err) {
			return fmt.Errorf("deleting the task: %w", err)
		}
	}
	// This removes its snapshot too.
	if err := m.ctr(ctx, "containers", "delete", id); err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting the container: %w", err)
	}
	return nil
}

// sweep removes the check's containers that an earlier run left behind (it
// was killed mid-cycle). Failing to is logged: the check can still run.
func (m *Monitor) sweep(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, m.CleanupTimeout)
	defer cancel()
	ids, err := m.checkContainers(lctx)
	if err != nil {
		m.Logf("looking for containers left behind: %v", err)
		return
	}
	for _, id := range ids {
		if err := m.remove(ctx, id, true); err != nil {
			m.Logf("removing container %s left behind: %v", id, err)
			continue
		}
		m.Logf("removed container %s left behind by an earlier run", id)
	}
}

// ctrCommand is ctr with args, speaking to the monitor's containerd in the
// check's namespace.
func (m *Monitor) ctrCommand(args ...string) *exec.Cmd {
	return exec.Command(m.Ctr, append([]string{"--address", m.Address, "--namespace", CtrNamespace}, args...)...)
}

// ctrError is ctr failing: its exit and what it said.
type ctrError struct {
	args   []string
	err    error
	stderr string
}

func (e *ctrError) Error() string {
	msg := strings.TrimSpace(e.stderr)
	if msg == "" {
		msg = e.err.Error()
	}
	return fmt.Sprintf("ctr %s: %s", strings.Join(e.args, " "), msg)
}

func (e *ctrError) Unwrap() error { return e.err }

// isNotFound is whether ctr failed because what it was to act on does not
// exist: containerd's errors then end in "not found".
func isNotFound(err error) bool {
	var ce *ctrError
	return errors.As(err, &ce) && strings.HasSuffix(strings.TrimSpace(ce.stderr), "not found")
}

// ctr runs a ctr command that prints nothing of interest.
func (m *Monitor) ctr(ctx context.Context, args ...string) error {
	_, err := m.ctrOutput(ctx, args...)
	return err
}

// ctrOutput runs a ctr command, killing it at ctx's end, and returns what
// it printed.
func (m *Monitor) ctrOutput(ctx context.Context, args ...string) (string, error) {
	cmd := m.ctrCommand(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		err = context.Cause(ctx)
	}
	if err != nil {
		return "", &ctrError{args: args, err: err, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	b   []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// randomHex is 32 random hex digits, a container's unique part.
func randomHex() string {
	var b [16]byte
	crand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}
