package testutil

import (
	"fmt"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Child is a program a test runs beside it (a registry, etcd, Prometheus):
// its output collected, and stopped when the test ends, its output logged
// if the test failed.
type Child struct {
	Name string
	Out  Buffer
	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's, once done is closed
}

// stopGrace is how long Stop lets a child end on SIGTERM (etcd and
// containerd flush on it) before killing it.
const stopGrace = 10 * time.Second

// StartChild starts cmd with its standard output and error going to the
// child's Out.
func StartChild(t testing.TB, name string, cmd *exec.Cmd) *Child {
	t.Helper()
	c := &Child{Name: name, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &c.Out, &c.Out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			t.Logf("%s's output:\n%s", name, c.Out.String())
		}
	})
	return c
}

// Exited reports whether the child has exited, and how.
func (c *Child) Exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.err
	default:
		return false, nil
	}
}

// WaitExit waits up to timeout for the child to exit on its own.
func (c *Child) WaitExit(timeout time.Duration) (exited bool, err error) {
	select {
	case <-c.done:
		return true, c.err
	case <-time.After(timeout):
		return false, nil
	}
}

// Stop ends the child, with SIGTERM and after stopGrace SIGKILL, and
// returns once it is reaped. Stopping a child that has exited does nothing.
func (c *Child) Stop() {
	if exited, _ := c.Exited(); exited {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	if exited, _ := c.WaitExit(stopGrace); !exited {
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// WaitFor is testutil.WaitFor that fails the test at once if the child
// exits: a program that cannot start should not cost the whole timeout.
func (c *Child) WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	WaitFor(t, timeout, what, func() (bool, error) {
		if exited, err := c.Exited(); exited {
			t.Fatalf("%s exited while waiting for %s: %v", c.Name, what, err)
		}
		return cond()
	})
}

// WaitAnswers waits up to timeout for GET url to answer 200, failing the
// test at once if the child exits.
func (c *Child) WaitAnswers(t testing.TB, timeout time.Duration, url string) {
	t.Helper()
	c.WaitFor(t, timeout, fmt.Sprintf("GET %s to answer 200", url), func() (bool, error) {
		resp, err := http.Get(url)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("%s", resp.Status)
	})
}
