// Package clock is a settable clock for tests. Code that reads the time
// takes a `func() time.Time` (time.Now in production; token.Open,
// keyserver.Options.Now, keyclient.Options.Now and HandshakeNow,
// keyapi.ClientConfig.Time); a test passes a Fake's Now instead and moves
// time forward with Advance or Set, so expiry and renewal are tested without
// sleeping. A Fake has no timers: code that sleeps offers a step to call
// instead (keyclient.Agent.Step says how long it would sleep). Only tests
// import it.
package clock

import (
	"sync"
	"time"
)

// Fake is a clock that stands still until told otherwise. It is safe for
// concurrent use: the code under test reads it from its own goroutines.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a clock showing t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now is the clock's time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d and returns the new time.
func (f *Fake) Advance(d time.Duration) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	return f.now
}

// Set puts the clock at t, which may lie in the past (a clock set back).
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
}
