package token

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Store operations, one per pair of fuzz input bytes (operation, argument).
const (
	opIssue   = iota // a token for principal node<arg%4>, valid (arg%8+1)*15 minutes
	opReserve        // reserve token arg%n
	opCommit         // commit held claim arg%n, for key arg/16%3
	opRelease        // release held claim arg%n
	opAdvance        // move the clock arg/4 minutes on
	opReopen         // restart: open the store's file afresh; held claims die with the process
	opRace           // four concurrent redemptions (reserve, commit) of token arg%n
	opUnknown        // reserve a token that was never issued
	opCount
)

var fuzzKeys = []string{"", "key-A", "key-B"}

// FuzzStore drives a Store with operations decoded from the input and checks
// every answer against a model of each token: a token is committed at most
// once, a used token is never reserved afresh (only replayed, for the key it
// was used for and within ReplayWindow), a token is never reserved twice at
// once, and a token that is issued, unused, unexpired and free is reservable.
func FuzzStore(f *testing.F) {
	for _, seed := range [][]byte{
		{opIssue, 0, opReserve, 0, opCommit, 0, opReserve, 0, opReopen, 0, opReserve, 0},
		{opIssue, 1, opReserve, 0, opReserve, 0, opRelease, 0, opReserve, 0, opCommit, 16},
		{opIssue, 0, opAdvance, 60, opReserve, 0, opIssue, 2, opReserve, 0, opReserve, 1},
		{opIssue, 3, opReserve, 0, opCommit, 16, opReserve, 0, opReopen, 0, opReserve, 0, opAdvance, 44, opReserve, 0},
		{opIssue, 7, opRace, 0, opRace, 0, opIssue, 0, opReserve, 1, opRace, 1, opUnknown, 0},
		{opIssue, 0, opIssue, 1, opReserve, 0, opReserve, 1, opCommit, 33, opReopen, 0, opReserve, 1, opCommit, 0},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		const maxOps = 64
		if len(ops) > 2*maxOps {
			ops = ops[:2*maxOps]
		}
		h := newStoreHarness(t)
		for i := 0; i+1 < len(ops); i += 2 {
			h.step(ops[i]%opCount, ops[i+1])
			h.checkOutstanding()
		}
	})
}

// fuzzToken is the model of one issued token.
type fuzzToken struct {
	tok, principal string
	expires        time.Time
	used           *time.Time
	key            string // the key it was committed for
	commits        int
	purged         bool // dropped by an Issue after it expired
}

type heldClaim struct {
	c  *Claim
	tk *fuzzToken
}

type storeHarness struct {
	t      *testing.T
	path   string
	now    time.Time // changed only between operations
	s      *Store
	tokens []*fuzzToken
	held   []heldClaim // fresh (not replay) claims of the current process
}

func newStoreHarness(t *testing.T) *storeHarness {
	h := &storeHarness{t: t, path: filepath.Join(storeDir(t), "tokens.json"), now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.open()
	return h
}

// storeDir is a fresh directory for one run's store, on tmpfs when there is
// one: the store fsyncs every change, which on a disk makes fuzzing about
// fifteen times slower.
func storeDir(t *testing.T) string {
	if dir, err := os.MkdirTemp("/dev/shm", "tokenfuzz"); err == nil {
		t.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return t.TempDir()
}

func (h *storeHarness) clock() time.Time { return h.now }

func (h *storeHarness) open() {
	s, err := Open(h.path, h.clock)
	if err != nil {
		h.t.Fatalf("Open: %v", err)
	}
	h.s, h.held = s, nil
}

func (h *storeHarness) step(op, arg byte) {
	t := h.t
	switch op {
	case opIssue:
		h.issue(fmt.Sprintf("node%d", arg%4), time.Duration(arg%8+1)*15*time.Minute)
	case opReserve:
		if tk := h.token(arg); tk != nil {
			c, err := h.s.Reserve(tk.tok)
			h.checkReserve(tk, c, err)
		}
	case opCommit:
		if len(h.held) > 0 {
			hc := h.take(arg)
			if err := hc.c.CommitFor(fuzzKeys[arg/16%3]); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			h.committed(hc.tk, fuzzKeys[arg/16%3])
		}
	case opRelease:
		if len(h.held) > 0 {
			h.take(arg).c.Release()
		}
	case opAdvance:
		h.now = h.now.Add(time.Duration(arg) * time.Minute / 4)
	case opReopen:
		for _, tk := range h.tokens {
			if data, _ := os.ReadFile(h.path); strings.Contains(string(data), tk.tok) {
				t.Fatal("the store's file holds a token in clear")
			}
		}
		h.open()
	case opRace:
		if tk := h.token(arg); tk != nil {
			h.race(tk)
		}
	case opUnknown:
		if _, err := h.s.Reserve(fmt.Sprintf("never-issued-%d", arg)); !errors.Is(err, ErrUnknown) {
			t.Fatalf("Reserve(never issued) = %v, want ErrUnknown", err)
		}
	}
}

func (h *storeHarness) token(arg byte) *fuzzToken {
	if len(h.tokens) == 0 {
		return nil
	}
	return h.tokens[int(arg)%len(h.tokens)]
}

func (h *storeHarness) take(arg byte) heldClaim {
	i := int(arg) % len(h.held)
	hc := h.held[i]
	h.held = append(h.held[:i], h.held[i+1:]...)
	return hc
}

func (h *storeHarness) isHeld(tk *fuzzToken) bool {
	for _, hc := range h.held {
		if hc.tk == tk {
			return true
		}
	}
	return false
}

func (h *storeHarness) issue(principal string, ttl time.Duration) {
	for _, tk := range h.tokens { // Issue drops expired tokens nobody holds
		if !h.now.Before(tk.expires) && !h.isHeld(tk) {
			tk.purged = true
		}
	}
	tok, expires, err := h.s.Issue(principal, ttl)
	if err != nil {
		h.t.Fatalf("Issue: %v", err)
	}
	if !expires.Equal(h.now.Add(ttl)) {
		h.t.Errorf("Issue expires %v, want %v", expires, h.now.Add(ttl))
	}
	h.tokens = append(h.tokens, &fuzzToken{tok: tok, principal: principal, expires: expires})
}

func (h *storeHarness) committed(tk *fuzzToken, key string) {
	if tk.commits++; tk.commits > 1 {
		h.t.Fatalf("token of %s committed %d times", tk.principal, tk.commits)
	}
	now := h.now
	tk.used, tk.key = &now, key
}

// want is the model's answer to a reservation of tk: nil for a fresh claim,
// errReplay for a replay claim, or the refusal.
func (h *storeHarness) want(tk *fuzzToken) error {
	switch {
	case tk.purged:
		return ErrUnknown
	case tk.used != nil && tk.key != "" && h.now.Before(tk.used.Add(ReplayWindow)):
		return errReplay
	case tk.used != nil:
		return ErrUsed
	case !h.now.Before(tk.expires):
		return ErrExpired
	case h.isHeld(tk):
		return ErrBusy
	}
	return nil
}

var errReplay = errors.New("replay claim")

func (h *storeHarness) checkReserve(tk *fuzzToken, c *Claim, err error) {
	t := h.t
	want := h.want(tk)
	switch {
	case err != nil:
		if !errors.Is(err, want) {
			t.Fatalf("Reserve(%s's token) = %v, want %v", tk.principal, err, describe(want))
		}
	case c.Principal != tk.principal:
		t.Fatalf("claim for %q, token issued to %q", c.Principal, tk.principal)
	case c.Replay:
		if want != errReplay {
			t.Fatalf("Reserve(%s's token) = replay claim, want %v", tk.principal, describe(want))
		}
		if !c.Matches(tk.key) || c.Matches("key-C") || c.Matches("") { // key-C: never spent for
			t.Fatalf("replay claim matches the wrong keys (used for %q)", tk.key)
		}
		// Neither may change anything; the model's later answers check that.
		if err := c.CommitFor("key-C"); err != nil {
			t.Fatalf("replay Commit: %v", err)
		}
		c.Release()
	default:
		if want != nil {
			t.Fatalf("Reserve(%s's token) = fresh claim, want %v", tk.principal, describe(want))
		}
		h.held = append(h.held, heldClaim{c, tk})
	}
}

func describe(err error) string {
	if err == nil {
		return "a fresh claim"
	}
	return err.Error()
}

// race redeems tk from four goroutines at once: exactly one wins if the
// token is free, none otherwise.
func (h *storeHarness) race(tk *fuzzToken) {
	want := h.want(tk)
	var mu sync.Mutex
	var wins []string
	var wg sync.WaitGroup
	// Keys from fuzzKeys only (key-A twice: a node retrying): the replay
	// check relies on key-C never being spent for.
	for _, key := range []string{"key-A", "key-B", "key-A", ""} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := h.s.Reserve(tk.tok)
			if err != nil || c.Replay {
				return
			}
			if err := c.CommitFor(key); err != nil {
				h.t.Errorf("Commit: %v", err)
				return
			}
			mu.Lock()
			wins = append(wins, key)
			mu.Unlock()
		}()
	}
	wg.Wait()
	switch {
	case want == nil && len(wins) != 1:
		h.t.Fatalf("%d of 4 concurrent redemptions of a free token won, want 1", len(wins))
	case want != nil && len(wins) != 0:
		h.t.Fatalf("%d concurrent redemptions won; want none (%v)", len(wins), describe(want))
	case len(wins) == 1:
		h.committed(tk, wins[0])
	}
}

func (h *storeHarness) checkOutstanding() {
	n := 0
	for _, tk := range h.tokens {
		if !tk.purged && tk.used == nil && h.now.Before(tk.expires) {
			n++
		}
	}
	if got := h.s.Outstanding(); got != n {
		h.t.Fatalf("Outstanding = %d, want %d", got, n)
	}
}
