package token

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFormatAndChecksum(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != Len {
			t.Fatalf("token %q has length %d", tok, len(tok))
		}
		if seen[tok] {
			t.Fatal("duplicate token")
		}
		seen[tok] = true
		if got, err := Check("  " + tok + "\n"); err != nil || got != tok {
			t.Fatalf("Check(%q) = %q, %v", tok, got, err)
		}
	}
	if _, err := Check("short"); err == nil || !strings.Contains(err.Error(), "22 characters") {
		t.Errorf("Check(short) = %v", err)
	}
	tok, _ := New()
	bad := tok[:bodyLen] + "AA"
	if bad == tok {
		bad = tok[:bodyLen] + "BB"
	}
	if _, err := Check(bad); !errors.Is(err, ErrTypo) {
		t.Errorf("wrong checksum: Check = %v, want ErrTypo", err)
	}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func newStore(t *testing.T) (*Store, string, *clock) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.json")
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, err := Open(path, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return s, path, c
}

func redeem(s *Store, tok string) (string, error) {
	c, err := s.Reserve(tok)
	if err != nil {
		return "", err
	}
	return c.Principal, c.Commit()
}

func TestSingleUse(t *testing.T) {
	s, _, _ := newStore(t)
	tok, _, err := s.Issue("node1.example.org", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if s.Outstanding() != 1 {
		t.Errorf("outstanding = %d", s.Outstanding())
	}
	if p, err := redeem(s, tok); err != nil || p != "node1.example.org" {
		t.Fatalf("redeem = %q, %v", p, err)
	}
	if _, err := redeem(s, tok); !errors.Is(err, ErrUsed) {
		t.Fatalf("second redeem = %v, want ErrUsed", err)
	}
	if _, err := redeem(s, "AAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("unknown = %v", err)
	}
	if s.Outstanding() != 0 {
		t.Errorf("outstanding = %d after use", s.Outstanding())
	}
}

func TestReleaseMakesTokenUsableAgain(t *testing.T) {
	s, _, _ := newStore(t)
	tok, _, _ := s.Issue("n", time.Hour)
	c, err := s.Reserve(tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reserve(tok); !errors.Is(err, ErrBusy) {
		t.Fatalf("reserve while reserved = %v, want ErrBusy", err)
	}
	c.Release()
	if _, err := redeem(s, tok); err != nil {
		t.Fatalf("redeem after release = %v", err)
	}
}

func TestExpiry(t *testing.T) {
	s, _, c := newStore(t)
	tok, _, _ := s.Issue("n", time.Hour)
	c.Advance(time.Hour)
	if _, err := redeem(s, tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("redeem after expiry = %v, want ErrExpired", err)
	}
	// Issuing purges it.
	if _, _, err := s.Issue("m", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := redeem(s, tok); !errors.Is(err, ErrUnknown) {
		t.Fatalf("redeem after purge = %v, want ErrUnknown", err)
	}
}

func TestConcurrentRedemption(t *testing.T) {
	s, _, _ := newStore(t)
	tok, _, _ := s.Issue("n", time.Hour)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := redeem(s, tok); err == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d redemptions succeeded, want exactly 1", wins.Load())
	}
}

func TestDurableAcrossRestart(t *testing.T) {
	s, path, c := newStore(t)
	valid, _, _ := s.Issue("valid", time.Hour)
	used, _, _ := s.Issue("used", time.Hour)
	if _, err := redeem(s, used); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), valid) || strings.Contains(string(data), used) {
		t.Fatal("the store file contains a token in clear")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("store mode %v", st.Mode().Perm())
	}

	s2, err := Open(path, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := redeem(s2, used); !errors.Is(err, ErrUsed) {
		t.Errorf("used token after restart = %v, want ErrUsed", err)
	}
	if p, err := redeem(s2, valid); err != nil || p != "valid" {
		t.Errorf("valid token after restart = %q, %v", p, err)
	}
}

func TestCorruptStoreRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := Open(path, time.Now); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("Open = %v", err)
	}
}

// A node whose first response was lost repeats the redemption with the same
// key; anyone else gets ErrUsed-like refusals, and the window closes.
func TestReplayForSameKeyWithinWindow(t *testing.T) {
	s, path, c := newStore(t)
	tok, _, _ := s.Issue("n", time.Hour)
	first, err := s.Reserve(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.CommitFor("key-A"); err != nil {
		t.Fatal(err)
	}
	again, err := s.Reserve(tok)
	if err != nil || !again.Replay || !again.Matches("key-A") || again.Matches("key-B") || again.Matches("") {
		t.Fatalf("replay claim = %+v, %v", again, err)
	}
	// Survives a restart.
	s2, err := Open(path, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	if cl, err := s2.Reserve(tok); err != nil || !cl.Matches("key-A") {
		t.Fatalf("replay after restart = %+v, %v", cl, err)
	}
	c.Advance(ReplayWindow)
	if _, err := s2.Reserve(tok); !errors.Is(err, ErrUsed) {
		t.Fatalf("after the window = %v, want ErrUsed", err)
	}
	// A token committed without a key never replays.
	tok2, _, _ := s2.Issue("m", time.Hour)
	if _, err := redeem(s2, tok2); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Reserve(tok2); !errors.Is(err, ErrUsed) {
		t.Fatalf("keyless replay = %v, want ErrUsed", err)
	}
}

// Concurrent issues and redemptions share writes; each is on disk once its
// call returns, whichever call's write carried it.
func TestConcurrentChangesAreDurable(t *testing.T) {
	s, path, c := newStore(t)
	const n = 64
	issued, spent := make([]string, n), make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if issued[i], _, err = s.Issue(fmt.Sprintf("kept%d", i), time.Hour); err != nil {
				errs <- err
			}
			if spent[i], _, err = s.Issue(fmt.Sprintf("spent%d", i), time.Hour); err != nil {
				errs <- err
			}
			if _, err := redeem(s, spent[i]); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s2, err := Open(path, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Outstanding(); got != n {
		t.Errorf("after reopening, %d tokens outstanding; want %d", got, n)
	}
	for i := range n {
		if _, err := redeem(s2, spent[i]); !errors.Is(err, ErrUsed) {
			t.Errorf("spent token %d after reopening: %v, want ErrUsed", i, err)
		}
		if p, err := redeem(s2, issued[i]); err != nil || p != fmt.Sprintf("kept%d", i) {
			t.Errorf("kept token %d after reopening = %q, %v", i, p, err)
		}
	}
}
