package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	// encoded is the entry as the file holds it, kept until the entry
	// changes (guarded by Store.mu), so a write encodes only what changed.
	encoded []byte
}

// Lines of the file around the entries: what json.MarshalIndent(file, "",
// "  ") writes, so files written before read the same.
const (
	entryIndent = "    "
	fileHead    = "{\n  \"version\": 1,\n  \"tokens\": [\n" + entryIndent
	entrySep    = ",\n" + entryIndent
	fileTail    = "\n  ]\n}"
	emptyFile   = "{\n  \"version\": 1,\n  \"tokens\": []\n}"
)

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
// (temporary file, fsync, rename) before the call that made it returns.
// The store's lock is not held while writing, and concurrent changes share
// one write (group commit): admitting or redeeming many tokens at once
// costs a write per round, not a write per token.
type Store struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	entries map[string]*entry // by hash
	// order holds the entries in the order they were issued (and some
	// purged since, which persist drops), so a write need not sort the
	// whole store.
	order []*entry
	// purgeAt is when the earliest entry expires: Issue purges expired
	// entries only from then, not by scanning the store on every call.
	purgeAt  time.Time
	reserved map[string]bool // hashes being redeemed right now
	changes  uint64          // changes made to entries

	saveMu sync.Mutex // one write at a time
	saved  uint64     // changes known to be on disk (guarded by saveMu)
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
		s.order = append(s.order, e)
	}
	sort.SliceStable(s.order, func(i, j int) bool { return s.order[i].Issued.Before(s.order[j].Issued) })
	s.purgeAt = s.earliestExpiry()
	return s, nil
}

// changed counts a change to entries and returns its number, for persist;
// callers hold mu.
func (s *Store) changed() uint64 {
	s.changes++
	return s.changes
}

// persist makes every change up to number upTo durable. Whoever holds
// saveMu writes everything changed so far, so callers queued behind one
// write usually find their change covered by it. A failed write fails only
// its writer: the next caller writes again.
func (s *Store) persist(upTo uint64) error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if s.saved >= upTo {
		return nil
	}
	type encoded struct {
		issued time.Time
		data   []byte
	}
	s.mu.Lock()
	all := make([]encoded, 0, len(s.entries))
	kept := s.order[:0]
	for _, e := range s.order {
		if s.entries[e.Hash] != e {
			continue // purged, or rolled back
		}
		kept = append(kept, e)
		if e.encoded == nil {
			data, err := json.MarshalIndent(e, entryIndent, "  ")
			if err != nil {
				s.mu.Unlock()
				return err
			}
			e.encoded = data
		}
		all = append(all, encoded{e.Issued, e.encoded})
	}
	clear(s.order[len(kept):])
	s.order = kept
	covered := s.changes
	s.mu.Unlock()
	// Already in order but for calls that took their time concurrently
	// and locked in another order: the sort only checks.
	sort.SliceStable(all, func(i, j int) bool { return all[i].issued.Before(all[j].issued) })
	data := []byte(emptyFile)
	if len(all) > 0 {
		size := len(fileHead) + len(fileTail)
		for _, e := range all {
			size += len(e.data) + len(entrySep)
		}
		data = append(make([]byte, 0, size), fileHead...)
		for i, e := range all {
			if i > 0 {
				data = append(data, entrySep...)
			}
			data = append(data, e.data...)
		}
		data = append(data, fileTail...)
	}
	if err := renameio.WriteFile(s.path, data, 0o600, renameio.WithTempDir(filepath.Dir(s.path))); err != nil {
		return err
	}
	s.saved = covered
	return nil
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
	if !now.Before(s.purgeAt) {
		for h, e := range s.entries {
			if !now.Before(e.Expires) && !s.reserved[h] {
				delete(s.entries, h)
			}
		}
		s.purgeAt = s.earliestExpiry()
	}
	e := &entry{Hash: hash(tok), Principal: principal, Issued: now, Expires: now.Add(ttl)}
	s.entries[e.Hash] = e
	s.order = append(s.order, e)
	if s.purgeAt.IsZero() || e.Expires.Before(s.purgeAt) {
		s.purgeAt = e.Expires
	}
	change := s.changed()
	s.mu.Unlock()
	// Until persist returns nobody knows the token, so it cannot be
	// redeemed before it is durable. If the write fails, another caller's
	// write may still have stored the entry: harmless, as nobody ever
	// learns the token and it expires.
	if err := s.persist(change); err != nil {
		s.mu.Lock()
		delete(s.entries, e.Hash)
		s.mu.Unlock()
		return "", time.Time{}, fmt.Errorf("storing token: %w", err)
	}
	return tok, e.Expires, nil
}

// earliestExpiry is when the first entry expires (zero: none); callers
// hold mu.
func (s *Store) earliestExpiry() time.Time {
	var first time.Time
	for _, e := range s.entries {
		if first.IsZero() || e.Expires.Before(first) {
			first = e.Expires
		}
	}
	return first
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
	if c.done {
		s.mu.Unlock()
		return errors.New("the token's claim has already ended")
	}
	c.done = true
	e := s.entries[c.hash]
	if e == nil {
		delete(s.reserved, c.hash)
		s.mu.Unlock()
		return ErrUnknown
	}
	now := s.now()
	e.Used, e.Key, e.encoded = &now, key, nil
	change := s.changed()
	s.mu.Unlock()
	// The token stays reserved until its use is durable: meanwhile every
	// other attempt to redeem it fails with ErrBusy, and it is not purged.
	err := s.persist(change)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.reserved, c.hash)
	if err != nil {
		// Another caller's write may have stored the use anyway; then,
		// after a restart, the token is spent, or a replay for this key:
		// refusing is the safe side.
		e.Used, e.Key, e.encoded = nil, "", nil
		s.changed()
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
