// Package audit writes the keyserver's audit log: one JSON object per line
// for every grant, refusal, token issue and token redemption, appended to a
// file that is only ever opened for appending. The keyserver imports it.
package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// Event is one audited decision.
type Event struct {
	Time      time.Time `json:"time"`
	Action    string    `json:"action"`              // grant, refuse, token-issue, token-redeem, ...
	Principal string    `json:"principal,omitempty"` // who asked (after impersonation: who acted)
	Remote    string    `json:"remote,omitempty"`    // from where
	API       string    `json:"api,omitempty"`       // what
	Target    string    `json:"target,omitempty"`    // on whose behalf (tokens, impersonation)
	Result    string    `json:"result"`              // ok, forbidden, invalid, unauthenticated, error
	Detail    string    `json:"detail,omitempty"`    // serial, expiry or reason
}

// Log appends events to a file.
type Log struct {
	mu  sync.Mutex
	f   *os.File
	now func() time.Time
}

// Open opens (creating with mode 0600) the log at path for appending.
func Open(path string, now func() time.Time) (*Log, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return &Log{f: f, now: now}, nil
}

// Record writes one event as one line, in a single write so lines from
// concurrent requests never interleave. Token events are synced to disk
// before returning: they change what the keyserver will accept later.
func (l *Log) Record(e Event) error {
	if e.Time.IsZero() {
		e.Time = l.now().UTC()
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(line); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if e.Action == "token-issue" || e.Action == "token-redeem" {
		return l.f.Sync()
	}
	return nil
}

// Close closes the file.
func (l *Log) Close() error { return l.f.Close() }
