package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/remote/remotetest"
	"homeworld.dev/homeworld/internal/testutil"
)

func TestRunReturnsOutputAndTakesStdin(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	c := s.dial(t, s.trusting(t))
	ctx := context.Background()
	out, err := c.Run(ctx, "echo hello; echo noise >&2; id -u", nil)
	if err != nil || string(out) != "hello\n0\n" {
		t.Fatalf("Run = %q, %v; want hello and uid 0 (root)", out, err)
	}
	out, err = c.Run(ctx, "tr a-z A-Z", strings.NewReader("from stdin"))
	if err != nil || string(out) != "FROM STDIN" {
		t.Fatalf("Run with stdin = %q, %v", out, err)
	}
}

func TestRunExitErrorCarriesCodeAndStderr(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	c := s.dial(t, s.trusting(t))
	out, err := c.Run(context.Background(), "echo partial; echo 'E: Unable to locate package nope' >&2; exit 100", nil)
	var exitErr *ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("Run = %v, want an *ExitError", err)
	}
	if exitErr.Code != 100 || !endsWithLine(exitErr.Stderr, "E: Unable to locate package nope") || exitErr.Host != s.host {
		t.Errorf("ExitError = %+v", exitErr)
	}
	if string(out) != "partial\n" {
		t.Errorf("output of a failed command = %q, want what it printed", out)
	}
	wantContains(t, "error", err.Error(), "node1 ("+s.sshd.Addr+")", "exit 100", "status 100", "Unable to locate package nope")
}

func TestExitErrorKeepsTheEndOfStderr(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	c := s.dial(t, s.trusting(t))
	_, err := c.Run(context.Background(), "head -c 100000 /dev/zero | tr '\\0' x >&2; echo THE-REASON >&2; exit 1", nil)
	var exitErr *ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("Run = %v, want an *ExitError", err)
	}
	if len(exitErr.Stderr) != stderrTail || !bytes.HasSuffix(exitErr.Stderr, []byte("THE-REASON\n")) {
		t.Errorf("kept %d bytes of stderr ending %q; want the last %d", len(exitErr.Stderr), exitErr.Stderr[len(exitErr.Stderr)-20:], stderrTail)
	}
}

func TestStreamCopiesOutputAsItComes(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	c := s.dial(t, s.trusting(t))
	var stdout, stderr bytes.Buffer
	if err := c.Stream(context.Background(), "for i in 1 2 3; do echo $i; done; echo progress >&2", &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "1\n2\n3\n" || !endsWithLine(stderr.Bytes(), "progress") {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	err := c.Stream(context.Background(), "echo why >&2; exit 7", nil, nil)
	var exitErr *ExitError
	if !errors.As(err, &exitErr) || exitErr.Code != 7 || !endsWithLine(exitErr.Stderr, "why") {
		t.Errorf("Stream of a failing command = %v", err)
	}
}

// Cancelling returns at once even though the command runs on (sshd does
// not pass signals to root's sessions).
func TestRunReturnsWhenCancelled(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	c := s.dial(t, s.trusting(t))
	marker := fmt.Sprintf("sleep %d.5", 1000+time.Now().UnixNano()%1000)
	pid := func() string {
		out, _ := exec.Command("pgrep", "-f", "^"+marker+"$").Output()
		return strings.TrimSpace(string(out))
	}
	t.Cleanup(func() {
		if p := pid(); p != "" {
			exec.Command("kill", p).Run()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, "exec "+marker, nil)
		done <- err
	}()
	testutil.WaitFor(t, testTimeout, "the command to run on the host", func() (bool, error) { return pid() != "", nil })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Run = %v, want context.Canceled", err)
		}
		wantContains(t, "error", err.Error(), "node1 (", marker, "may still run")
	case <-time.After(testTimeout):
		t.Fatal("Run did not return when cancelled")
	}
	if out, err := c.Run(context.Background(), "echo still usable", nil); err != nil || string(out) != "still usable\n" {
		t.Errorf("Run after a cancelled one = %q, %v", out, err)
	}
}

// A command on a closed connection fails naming the host, as lost.
func TestRunOnClosedConnection(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	c := s.dial(t, s.trusting(t))
	c.Close()
	_, err := c.Run(context.Background(), "true", nil)
	if !errors.Is(err, ErrConnLost) || !strings.Contains(err.Error(), "node1 (") {
		t.Errorf("Run after Close = %v, want ErrConnLost naming the host", err)
	}
}

// endsWithLine reports whether stderr ends with the command's own last line.
// Only the end is compared: root's shell on the far side may source dotfiles
// that write to stderr before the command starts (pyenv's init does, and
// races with itself when several shells start at once).
func endsWithLine(stderr []byte, line string) bool {
	return bytes.Equal(stderr, []byte(line+"\n")) || bytes.HasSuffix(stderr, []byte("\n"+line+"\n"))
}
