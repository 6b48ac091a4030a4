// Package testutil holds helpers shared by tests across the tree. Only
// tests import it.
package testutil

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// pollInterval is short because the conditions polled are cheap and most
// hold within milliseconds; a timeout, not the interval, bounds the wait.
const pollInterval = 10 * time.Millisecond

// WaitFor calls cond until it reports done, failing the test if that has
// not happened after timeout. cond's error says why it is not done yet; it
// is ignored once cond reports done, and the last one is in the failure
// message, with what was awaited. cond is called at least once, however
// short the timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, err := cond()
		if done {
			return
		}
		if !time.Now().Before(deadline) {
			if err != nil {
				t.Fatalf("still waiting after %v for %s: %v", timeout, what, err)
			}
			t.Fatalf("still waiting after %v for %s", timeout, what)
		}
		time.Sleep(pollInterval)
	}
}

// Buffer collects a process's or goroutine's output while the test reads
// it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Grep returns the lines of text that contain substr, for a failure
// message to show the part of a long output (metrics, a log) that matters.
func Grep(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
