package supervise

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/testutil"
)

// child starts script in its own process group and returns once the script
// has printed its first line (so its traps are set), with the channel Wait
// closes and the exit status Wait recorded.
func child(t *testing.T, script string) (*exec.Cmd, chan struct{}, func() syscall.WaitStatus) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("reading the child's first line: %v", err)
	}
	exited := make(chan struct{})
	var state *os.ProcessState
	go func() {
		cmd.Wait()
		state = cmd.ProcessState
		close(exited)
	}()
	status := func() syscall.WaitStatus {
		<-exited
		return state.Sys().(syscall.WaitStatus)
	}
	return cmd, exited, status
}

// TestStopKillsWhatIgnoresTERM: a process that ignores SIGTERM is killed
// once the grace period has passed, watched both ways Stop knows.
func TestStopKillsWhatIgnoresTERM(t *testing.T) {
	for _, viaWait := range []bool{true, false} {
		cmd, exited, status := child(t, `trap "" TERM; echo ready; exec sleep 60`)
		p := Process{PID: cmd.Process.Pid}
		if viaWait {
			p.Exited = exited
		}
		grace := 300 * time.Millisecond
		start := time.Now()
		killed := Stop(p, grace)
		took := time.Since(start)
		if !killed {
			t.Errorf("Stop (via wait %v) = not killed, want killed", viaWait)
		}
		if took < grace {
			t.Errorf("Stop (via wait %v) returned after %v, before the grace period %v", viaWait, took, grace)
		}
		if ws := status(); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("child (via wait %v) ended with %v, want killed by SIGKILL", viaWait, ws)
		}
	}
}

// TestStopEndsWithTERM: a process that ends on SIGTERM is not killed, and
// Stop does not sit out the grace period.
func TestStopEndsWithTERM(t *testing.T) {
	for _, viaWait := range []bool{true, false} {
		cmd, exited, status := child(t, `echo ready; exec sleep 60`)
		p := Process{PID: cmd.Process.Pid}
		if viaWait {
			p.Exited = exited
		}
		start := time.Now()
		if Stop(p, 20*time.Second) {
			t.Errorf("Stop (via wait %v) killed a process that ends on SIGTERM", viaWait)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("Stop (via wait %v) took %v", viaWait, took)
		}
		if ws := status(); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			t.Errorf("child (via wait %v) ended with %v, want SIGTERM", viaWait, ws)
		}
	}
}

// TestStopGroupLeavesNoChildren: a group's leader that ends on SIGTERM
// takes with it a child that ignores SIGTERM.
func TestStopGroupLeavesNoChildren(t *testing.T) {
	dir := t.TempDir()
	pidFile, trapped := filepath.Join(dir, "pid"), filepath.Join(dir, "trapped")
	cmd, exited, _ := child(t, `sh -c 'trap "" TERM; touch `+trapped+`; exec sleep 60' & echo $! > `+pidFile+`
		while [ ! -e `+trapped+` ]; do sleep 0.01; done; echo ready; wait`)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	grandchild, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !Alive(grandchild) {
		t.Fatalf("grandchild %d is not running", grandchild)
	}
	if Stop(Process{PID: cmd.Process.Pid, Group: true, Exited: exited}, 10*time.Second) {
		t.Error("Stop killed a leader that ends on SIGTERM")
	}
	testutil.WaitFor(t, 5*time.Second, "the group's child to be gone after Stop", func() (bool, error) {
		return !Alive(grandchild), nil
	})
}
