package testutil

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB whose Fatalf records the message and ends the
// calling goroutine, as the real one does.
type recorder struct {
	testing.TB
	fatal string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls WaitFor on a recorder in its own goroutine (Fatalf ends it) and
// returns the failure message, empty if WaitFor returned.
func run(timeout time.Duration, what string, cond func() (bool, error)) string {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		WaitFor(r, timeout, what, cond)
	}()
	<-done
	return r.fatal
}

func TestWaitForReturnsOnceConditionHolds(t *testing.T) {
	calls := 0
	msg := run(10*time.Second, "the third call", func() (bool, error) {
		calls++
		return calls == 3, errors.New("not yet")
	})
	if msg != "" || calls != 3 {
		t.Errorf("after %d calls: failure %q, want success at the third call", calls, msg)
	}
}

func TestWaitForFailsNamingWhatAndLastError(t *testing.T) {
	calls := 0
	msg := run(50*time.Millisecond, "the moon", func() (bool, error) {
		calls++
		return false, fmt.Errorf("attempt %d: no moon", calls)
	})
	want := fmt.Sprintf("still waiting after 50ms for the moon: attempt %d: no moon", calls)
	if msg != want {
		t.Errorf("failure %q, want %q", msg, want)
	}
	if calls < 2 {
		t.Errorf("cond called %d times in 50ms: WaitFor did not poll", calls)
	}
}

func TestWaitForWithoutErrorAndZeroTimeout(t *testing.T) {
	calls := 0
	msg := run(0, "nothing", func() (bool, error) { calls++; return false, nil })
	if calls != 1 || msg != "still waiting after 0s for nothing" {
		t.Errorf("calls %d, failure %q: want one call and a message without an error", calls, msg)
	}
	if strings.Contains(msg, "<nil>") {
		t.Errorf("failure %q shows a nil error", msg)
	}
}
