package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/google/renameio/v2"
)

// Redemption errors.
var (
	ErrUnknown = errors.New("unknown admission token")
	ErrUsed    = errors.New("admission token was already used")
	ErrExpired = errors.New("admission token has expired")
	ErrBusy    = errors.New("admission token is being redeemed by another request")
)

type entry struct {
	Hash      string     `json:"hash"`
	Principal string     `json:"principal"`
	Issued    time.Time  `json:"issued"`
	Expires   time.Time  `json:"expires"`
	Used      *time.Time `json:"used,omitempty"`
	// Key identifies the key the token's identity was issued for, so the
	// same node can repeat a redemption whose response it lost.
	Key string `json:"key,omitempty"`
}

// ReplayWindow is how long after its use a token may be redeemed again for
// the same key: long enough for a node's retry after a lost response,
// short enough that a stolen used token is worth nothing (it would also
// need the node's private key and address).
const ReplayWindow = 10 * time.Minute

type file struct {
	Version int      `json:"version"`
	Tokens  []*entry `json:"tokens"`
}

// Store is the durable set of issued tokens. Every change is written to disk
// (temporary file, fsync, rename) before it takes effect for callers.
type Store struct {
	path string
	now  func() time.Time

	mu       sync.Mutex
	entries  map[string]*entry // by hash
	reserved map[string]bool   // hashes being redeemed right now
}

// Open loads the store at path, creating an empty one if the file is absent.
// now is the clock (time.Now outside tests).
func Open(path string, now func() time.Time) (*Store, error) {
	s := &Store{path: path, now: now, entries: map[string]*entry{}, reserved: map[string]bool{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("token store %s is corrupt: %w", path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("token store %s has unknown version %d", path, f.Version)
	}
	for i, e := range f.Tokens {
		if e == nil || e.Hash == "" {
			return nil, fmt.Errorf("token store %s is corrupt: entry %d is empty", path, i)
		}
		s.entries[e.Hash] = e
	}
	return s, nil
}

// save writes every entry; callers hold mu.
func (s *Store) save() error {
	f := file{Version: 1}
	for _, e := range s.entries {
		f.Tokens = append(f.Tokens, e)
	}
	sort.Slice(f.Tokens, func(i, j int) bool { return f.Tokens[i].Issued.Before(f.Tokens[j].Issued) })
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return renameio.WriteFile(s.path, data, 0o600)
}

// Issue creates a token for principal, valid for ttl. Expired entries are
// dropped at the same time.
func (s *Store) Issue(principal string, ttl time.Duration) (string, time.Time, error) {
	tok, err := New()
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, e := range s.entries {
		if !now.Before(e.Expires) && !s.reserved[h] {
			delete(s.entries, h)
		}
	}
	e := &entry{Hash: hash(tok), Principal: principal, Issued: now, Expires: now.Add(ttl)}
	s.entries[e.Hash] = e
	if err := s.save(); err != nil {
		delete(s.entries, e.Hash)
		return "", time.Time{}, fmt.Errorf("storing token: %w", err)
	}
	return tok, e.Expires, nil
}

// Claim is a token held for one redemption: Commit spends it, Release gives
// it back (the request failed before anything was granted).
type Claim struct {
	s         *Store
	hash      string
	done      bool // committed or released (guarded by s.mu)
	Principal string
	// Replay: the token was already used; the claim is valid only for the
	// key it was used for (see Matches) and Commit changes nothing.
	Replay bool
	key    string
}

// Matches reports whether a claim may be honoured for key: always for a
// fresh token, only for the same key for a replay.
func (c *Claim) Matches(key string) bool { return !c.Replay || (key != "" && key == c.key) }

// Reserve takes a token for redemption. While reserved, any other attempt
// fails with ErrBusy, so concurrent redemptions cannot both succeed.
func (s *Store) Reserve(tok string) (*Claim, error) {
	h := hash(tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[h]
	switch {
	case !ok:
		return nil, ErrUnknown
	case e.Used != nil && e.Key != "" && s.now().Before(e.Used.Add(ReplayWindow)):
		return &Claim{s: s, hash: h, Principal: e.Principal, Replay: true, key: e.Key}, nil
	case e.Used != nil:
		return nil, ErrUsed
	case !s.now().Before(e.Expires):
		return nil, ErrExpired
	case s.reserved[h]:
		return nil, ErrBusy
	}
	s.reserved[h] = true
	return &Claim{s: s, hash: h, Principal: e.Principal}, nil
}

// Commit marks the token used, durably. If that cannot be stored the token
// stays unused and the caller must not grant anything.
func (c *Claim) Commit() error { return c.CommitFor("") }

// CommitFor is Commit that remembers the key the identity was issued for,
// so the same key may repeat the redemption within ReplayWindow.
func (c *Claim) CommitFor(key string) error {
	if c.Replay {
		return nil
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.done {
		return errors.New("the token's claim has already ended")
	}
	c.done = true
	defer delete(s.reserved, c.hash)
	e := s.entries[c.hash]
	if e == nil {
		return ErrUnknown
	}
	now := s.now()
	e.Used, e.Key = &now, key
	if err := s.save(); err != nil {
		e.Used, e.Key = nil, ""
		return fmt.Errorf("recording token use: %w", err)
	}
	return nil
}

// Release returns an uncommitted token to the store.
func (c *Claim) Release() {
	if c.Replay {
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if !c.done {
		c.done = true
		delete(c.s.reserved, c.hash)
	}
}

// Outstanding counts tokens that are neither used nor expired.
func (s *Store) Outstanding() int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.entries {
		if e.Used == nil && now.Before(e.Expires) {
			n++
		}
	}
	return n
}
