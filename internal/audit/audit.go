// Package audit writes the keyserver's audit log: one JSON object per line
// for every grant, refusal, token issue and token redemption, appended to a
// file that is only ever opened for appending, once its end is whole (see
// Open). Record returns only once its
// lines are on disk, so a caller can refuse to deliver what it could not
// audit; concurrent callers share one fsync (group commit). The keyserver
// imports it.
package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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
//
// Record does not write and sync on its own: concurrent Records join one
// batch, and one of them, the flusher, writes the whole batch with one
// write and syncs it with one fsync while the others wait for that fsync.
// Lines that arrive meanwhile form the next batch, whose first caller to
// find no flush running flushes it. So a busy keyserver pays one fsync per
// batch rather than per line, and each line still reaches the disk before
// its Record returns.
type Log struct {
	path     string
	now      func() time.Time
	syncFile func(*os.File) error // (*os.File).Sync; tests count or fail syncs

	mu       sync.Mutex // guards next, flushing and the batches' taken
	next     *batch     // lines waiting for a flusher
	flushing *batch     // being written and synced; nil when none is

	fileMu sync.Mutex // guards f and torn; held through a batch's write and sync
	f      *os.File   // nil once closed
	torn   bool       // a failed write may have left a partial line at the end
}

// batch is lines written and synced together. done is closed once err is
// set: every Record whose lines are in it returns err.
type batch struct {
	buf     []byte
	records int  // the Records whose lines buf holds
	taken   bool // a flusher has it: it is no longer Log.next
	done    chan struct{}
	err     error
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

// Open opens (creating with mode 0600) the log at path for appending.
// A partial last line, which a process killed in the middle of a write
// leaves, is cut off first and the cut is audited (action "audit-repair"):
// its Record never returned, so nothing relied on it, and every line of
// the log stays a whole event.
func Open(path string, now func() time.Time) (*Log, error) {
	cut, err := cutPartialLine(path)
	if err != nil {
		return nil, fmt.Errorf("audit log %s: repairing its end: %w", path, err)
	}
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	l := &Log{path: path, now: now, syncFile: (*os.File).Sync, next: newBatch(), f: f}
	if cut > 0 {
		err := l.Record(Event{Action: "audit-repair", Result: "ok",
			Detail: fmt.Sprintf("cut %d bytes of a line a stopped process left unfinished", cut)})
		if err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

// cutPartialLine truncates the file at path after its last newline and
// returns how many bytes it cut; a missing or whole file is left alone.
func cutPartialLine(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	// Read backwards until a newline: usually the last byte is one.
	buf := make([]byte, 64<<10)
	end := size
	for end > 0 {
		start := max(0, end-int64(len(buf)))
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			end = start + int64(i) + 1
			break
		}
		end = start
	}
	if end == size {
		return 0, nil
	}
	if err := f.Truncate(end); err != nil {
		return 0, err
	}
	return size - end, f.Sync()
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
	var lines []byte
	for _, e := range events {
		if e.Time.IsZero() {
			e.Time = l.now().UTC()
		}
		line, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
		lines = append(append(lines, line...), '\n')
	}
	l.mu.Lock()
	b := l.next
	b.buf = append(b.buf, lines...)
	b.records++
	for {
		if b.taken {
			l.mu.Unlock()
			<-b.done
			return b.err
		}
		if cur := l.flushing; cur != nil {
			l.mu.Unlock()
			<-cur.done
			l.mu.Lock()
			continue
		}
		// No flush is running and b is not taken, so b is l.next: this
		// caller flushes it.
		b.taken, l.flushing, l.next = true, b, newBatch()
		l.mu.Unlock()
		b.err = l.flush(b.buf)
		l.mu.Lock()
		l.flushing = nil
		l.mu.Unlock()
		close(b.done)
		return b.err
	}
}

// flush writes buf and syncs it. A failed sync fails the whole batch: the
// kernel may have dropped any of its lines and reports that only once.
func (l *Log) flush(buf []byte) error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	if l.f == nil {
		return fmt.Errorf("audit log %s: closed", l.path)
	}
	if l.torn {
		// Start on a new line, so that these lines stay whole after the
		// fragment a failed write left.
		buf = append([]byte{'\n'}, buf...)
	}
	n, err := l.f.Write(buf)
	if err != nil {
		if n > 0 && buf[n-1] != '\n' {
			l.torn = true
		}
		return fmt.Errorf("audit log %s: %w", l.path, err)
	}
	l.torn = false
	if err := l.syncFile(l.f); err != nil {
		return fmt.Errorf("audit log %s: sync: %w", l.path, err)
	}
	return nil
}

// Reopen closes the file and opens the path again, for log rotation (the
// keyserver calls it on SIGHUP, as logrotate expects). Every line written
// to the old file was synced, or its Record failed, before this can close
// it, so rotation loses none that Record reported durable.
func (l *Log) Reopen() error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	if l.f == nil {
		return fmt.Errorf("audit log %s: closed", l.path)
	}
	f, err := openFile(l.path)
	if err != nil {
		return err // keep writing to the old file rather than to nothing
	}
	l.f.Close()
	l.f, l.torn = f, false
	return nil
}

// Close closes the file; Records after it fail.
func (l *Log) Close() error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
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
