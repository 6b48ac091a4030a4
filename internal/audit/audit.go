// Package audit writes the keyserver's audit log: one JSON object per line
// for every grant, refusal, token issue and token redemption, appended to a
// file that is only ever opened for appending. Record returns only once its
// lines are on disk, so a caller can refuse to deliver what it could not
// audit; concurrent callers share one fsync (group commit). The keyserver
// imports it.
package audit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

// Event is one audited decision.
type Event struct {
	Time      time.Time `json:"time"`
	Action    string    `json:"action"`              // grant, refuse, token-issue, token-redeem, deny, allow, ...
	Principal string    `json:"principal,omitempty"` // who the request acted as
	Via       string    `json:"via,omitempty"`       // who authenticated, when it acted as another principal
	Remote    string    `json:"remote,omitempty"`    // from where
	API       string    `json:"api,omitempty"`       // what
	Target    string    `json:"target,omitempty"`    // on whose behalf (tokens, impersonation, deny)
	Result    string    `json:"result"`              // ok, forbidden, invalid, unauthenticated, error
	Detail    string    `json:"detail,omitempty"`    // serial, expiry or reason
	// Auth is how the request's caller authenticated: "token",
	// "certificate", or "break-glass" (an admin identity minted with the
	// disaster key rather than obtained through Kerberos); empty when the
	// caller presented nothing. Last, so lines without it read as before.
	Auth string `json:"auth,omitempty"`
}

// Log appends events to a file.
type Log struct {
	path string
	now  func() time.Time

	mu      sync.Mutex // guards f, written
	f       *os.File
	written uint64 // Record calls whose lines were written

	syncMu sync.Mutex // one fsync at a time
	synced uint64     // Record calls known to be on disk
	// lost: Record calls up to here went to a file that was rotated away
	// after its sync failed; they are not durable.
	lost uint64
}

// Open opens (creating with mode 0600) the log at path for appending.
func Open(path string, now func() time.Time) (*Log, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	return &Log{path: path, now: now, f: f}, nil
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return f, nil
}

// Record writes the events, one line each, in a single write (lines from
// concurrent requests never interleave), and returns once they are synced
// to disk. An error means the events may not be durable: the caller must
// not deliver what they record.
func (l *Log) Record(events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	var buf []byte
	for _, e := range events {
		if e.Time.IsZero() {
			e.Time = l.now().UTC()
		}
		line, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
		buf = append(append(buf, line...), '\n')
	}
	l.mu.Lock()
	_, err := l.f.Write(buf)
	l.written++
	seq := l.written
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("audit log %s: %w", l.path, err)
	}
	return l.syncThrough(seq)
}

// syncThrough makes every write up to seq durable. Whoever holds syncMu
// syncs everything written so far, so callers that queued behind one fsync
// usually find their lines already covered by the next.
func (l *Log) syncThrough(seq uint64) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if l.synced >= seq {
		return nil
	}
	if seq <= l.lost {
		return fmt.Errorf("audit log %s: lines were lost in a rotation whose sync failed", l.path)
	}
	l.mu.Lock()
	f, upTo := l.f, l.written
	l.mu.Unlock()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("audit log %s: sync: %w", l.path, err)
	}
	l.synced = upTo
	return nil
}

// Reopen closes the file and opens the path again, for log rotation (the
// keyserver calls it on SIGHUP, as logrotate expects). Lines written
// before are synced first, so rotation loses none.
func (l *Log) Reopen() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	syncErr := l.f.Sync()
	f, err := openFile(l.path)
	if err != nil {
		return err // keep writing to the old file rather than to nothing
	}
	l.f.Close()
	l.f = f
	if syncErr != nil {
		l.lost = l.written
		return fmt.Errorf("audit log %s: sync before reopening: %w", l.path, syncErr)
	}
	l.synced = l.written
	return nil
}

// Close closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// ResultFor is the Result of a refusal answered with an HTTP status.
func ResultFor(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "unauthenticated"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusRequestHeaderFieldsTooLarge:
		return "invalid"
	}
	return "error"
}
