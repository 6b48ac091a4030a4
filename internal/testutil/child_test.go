package testutil

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// waitAnswers calls WaitAnswers on a recorder in its own goroutine and
// returns the failure message, empty if it returned.
func waitAnswers(c *Child, timeout time.Duration, url string) string {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.WaitAnswers(r, timeout, url)
	}()
	<-done
	return r.fatal
}

func TestChildThatExitsFailsTheWaitAtOnce(t *testing.T) {
	c := StartChild(t, "quitter", exec.Command("sh", "-c", "echo giving up; exit 3"))
	start := time.Now()
	msg := waitAnswers(c, time.Minute, "http://127.0.0.1:1/")
	if !strings.Contains(msg, "quitter exited while waiting for GET http://127.0.0.1:1/ to answer 200: exit status 3") {
		t.Errorf("failure = %q; want it to name the child and its exit", msg)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the wait took %v; want it to end when the child exits, not at its timeout", d)
	}
	if !strings.Contains(c.Out.String(), "giving up") {
		t.Errorf("the child's output = %q; want what it printed", c.Out.String())
	}
}

func TestChildWaitAnswersNamesTheLastStatus(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(int(status.Load())) }))
	defer srv.Close()
	c := StartChild(t, "sleeper", exec.Command("sleep", "60"))
	msg := waitAnswers(c, 100*time.Millisecond, srv.URL)
	if !strings.Contains(msg, "for GET "+srv.URL+" to answer 200: 503 Service Unavailable") {
		t.Errorf("failure = %q; want what was awaited and the last status", msg)
	}
	status.Store(http.StatusOK)
	if msg := waitAnswers(c, 10*time.Second, srv.URL); msg != "" {
		t.Errorf("with the server answering 200: %s", msg)
	}
	if exited, err := c.WaitExit(10 * time.Millisecond); exited {
		t.Errorf("sleeper exited (%v); want it running until the test ends", err)
	}
}

func TestChildStopEndsItWithSIGTERM(t *testing.T) {
	c := StartChild(t, "trapper", exec.Command("sh", "-c", "trap 'echo terminated; exit 0' TERM; echo ready; while :; do sleep 0.05; done"))
	WaitFor(t, 10*time.Second, "the child to set its trap", func() (bool, error) {
		return strings.Contains(c.Out.String(), "ready"), nil
	})
	c.Stop()
	if exited, err := c.Exited(); !exited || err != nil {
		t.Errorf("after Stop: exited %v (%v); want a clean exit on SIGTERM", exited, err)
	}
	if !strings.Contains(c.Out.String(), "terminated") {
		t.Errorf("output %q; want the child's own handling of SIGTERM", c.Out.String())
	}
	c.Stop() // again: nothing to do
}
