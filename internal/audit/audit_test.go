package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestConcurrentLinesStayWholeAndAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	os.WriteFile(path, []byte(`{"earlier":"line"}`+"\n"), 0o600)
	l, err := Open(path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Record(Event{Action: "grant", Principal: strings.Repeat("p", i*50), Result: "ok"})
		}()
	}
	wg.Wait()
	l.Record(Event{Action: "token-issue", Result: "ok"})
	l.Close()
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 52 || lines[0] != `{"earlier":"line"}` {
		t.Fatalf("%d lines; first %q", len(lines), lines[0])
	}
	for _, line := range lines[1:] {
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Time.IsZero() {
			t.Fatalf("bad line %q: %v", line, err)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
}

// A log whose device is full must say so: the keyserver then delivers
// nothing. /dev/full fails every write with ENOSPC, as a full disk would.
func TestWriteFailureIsReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.Symlink("/dev/full", path); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = l.Record(Event{Action: "grant", Result: "ok"})
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Record on a full device = %v, want ENOSPC", err)
	}
}

// Rotation as logrotate does it: rename the file, signal, keep writing.
// Every line lands in the old or the new file, none is lost, and the log
// recovers from a failing file by reopening.
func TestReopenForRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := Open(path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	record := func(p string) {
		t.Helper()
		if err := l.Record(Event{Action: "grant", Principal: p, Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	record("before")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	record("between") // still the old file, as with any appender
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	record("after")
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if !strings.Contains(string(old), `"before"`) || !strings.Contains(string(old), `"between"`) || !strings.Contains(string(cur), `"after"`) || strings.Contains(string(cur), `"before"`) {
		t.Fatalf("rotated:\n%s\ncurrent:\n%s", old, cur)
	}
	// A broken file: writes fail until the path is fixed and reopened.
	os.Remove(path)
	os.Symlink("/dev/full", path)
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(Event{Action: "grant", Result: "ok"}); err == nil {
		t.Fatal("write to a full device succeeded")
	}
	os.Remove(path)
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	record("recovered")
	if cur, _ := os.ReadFile(path); !strings.Contains(string(cur), `"recovered"`) {
		t.Fatalf("after recovery: %q", cur)
	}
}

// groupCommit starts n Records at once on a log whose first sync holds
// until the other n-1 have queued their lines, so that they must share the
// second: the syncs are counted, and the n-1 waiters' fate is the second
// sync's, whose error is secondErr. Each Record's error is returned by its
// writer's index; each writer also checks, as soon as its Record returns
// nil, that a finished sync covered its line.
func groupCommit(t *testing.T, n int, secondErr error) (l *Log, path string, syncs int, errs []error) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var syncMu sync.Mutex
	var synced int64 // the file's size when the last finished sync began
	queued := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.next.records
	}
	l.syncFile = func(f *os.File) error {
		syncMu.Lock()
		syncs++
		first := syncs == 1
		syncMu.Unlock()
		if first {
			deadline := time.Now().Add(10 * time.Second)
			for queued() < n-1 {
				if time.Now().After(deadline) {
					return fmt.Errorf("only %d of %d writers queued behind the first sync", queued(), n-1)
				}
				time.Sleep(time.Millisecond)
			}
		}
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		if !first && secondErr != nil {
			return secondErr
		}
		syncMu.Lock()
		synced = max(synced, st.Size())
		syncMu.Unlock()
		return nil
	}
	errs = make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf(`"writer-%03d"`, i)
			errs[i] = l.Record(Event{Action: "grant", Principal: name[1 : len(name)-1], Detail: strings.Repeat("d", i*37), Result: "ok"})
			if errs[i] != nil {
				return
			}
			syncMu.Lock()
			covered := synced
			syncMu.Unlock()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Error(err)
				return
			}
			at := bytes.Index(data, []byte(name))
			end := bytes.IndexByte(data[max(at, 0):], '\n')
			if at < 0 || end < 0 || int64(at+end+1) > covered {
				t.Errorf("writer %d: Record returned with its line (at %d) beyond the %d bytes a finished sync covered", i, at, covered)
			}
		})
	}
	wg.Wait()
	return l, path, syncs, errs
}

// Concurrent Records share fsyncs: one write and one sync per batch, every
// line whole and parseable, and no Record returns before a sync that began
// after its line was written has finished.
func TestGroupCommitSharesSyncs(t *testing.T) {
	const n = 40
	_, path, syncs, errs := groupCommit(t, n, nil)
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if syncs != 2 {
		t.Errorf("%d syncs for %d concurrent Records; want 2 (the first, and one for the %d that queued behind it)", syncs, n, n-1)
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	seen := map[string]bool{}
	for _, line := range lines {
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Time.IsZero() || e.Result != "ok" {
			t.Fatalf("bad line %q: %v", line, err)
		}
		seen[e.Principal] = true
	}
	if len(lines) != n || len(seen) != n {
		t.Errorf("%d lines from %d writers; want %d of each", len(lines), len(seen), n)
	}
}

// A failed fsync fails every Record whose lines it was to make durable,
// not just the flusher's: the kernel reports a writeback error once, so a
// retried sync would succeed without the lines. The log works again after.
func TestFailedSyncFailsEveryWaiter(t *testing.T) {
	const n = 40
	injected := errors.New("injected EIO")
	l, _, syncs, errs := groupCommit(t, n, injected)
	failed := 0
	for _, err := range errs {
		if err != nil {
			if !errors.Is(err, injected) {
				t.Errorf("Record: %v, want the sync's error", err)
			}
			failed++
		}
	}
	if syncs != 2 || failed != n-1 {
		t.Errorf("%d syncs, %d of %d Records failed; want 2 syncs and the %d sharing the failed one", syncs, failed, n, n-1)
	}
	l.syncFile = (*os.File).Sync
	if err := l.Record(Event{Action: "grant", Result: "ok"}); err != nil {
		t.Errorf("after a failed sync: %v", err)
	}
}

// TestOpenCutsAPartialLastLine: a process killed in the middle of a write
// leaves part of a line at the end; Open cuts it, audits the cut, and every
// line stays a whole event. A whole log, an empty one and one that is all
// fragment are handled too.
func TestOpenCutsAPartialLastLine(t *testing.T) {
	whole := `{"action":"grant","result":"ok"}` + "\n"
	for name, tc := range map[string]struct {
		before   string
		keep     string // what of before remains
		repaired bool
	}{
		"torn":          {whole + `{"time"`, whole, true},
		"whole":         {whole, whole, false},
		"empty":         {"", "", false},
		"all fragment":  {`{"action":"gr`, "", true},
		"long fragment": {whole + `{"detail":"` + strings.Repeat("x", 200<<10), whole, true},
	} {
		path := filepath.Join(t.TempDir(), "audit.log")
		os.WriteFile(path, []byte(tc.before), 0o600)
		l, err := Open(path, time.Now)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := l.Record(Event{Action: "token-issue", Result: "ok"}); err != nil {
			t.Fatal(err)
		}
		l.Close()
		data, _ := os.ReadFile(path)
		if !strings.HasPrefix(string(data), tc.keep) {
			t.Errorf("%s: the log no longer starts with what was whole:\n%s", name, data)
		}
		var actions []string
		for _, line := range strings.Split(strings.TrimSuffix(string(data[len(tc.keep):]), "\n"), "\n") {
			var e Event
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("%s: line %q: %v", name, line, err)
			}
			actions = append(actions, e.Action)
		}
		want := "[token-issue]"
		if tc.repaired {
			want = "[audit-repair token-issue]"
		}
		if fmt.Sprint(actions) != want {
			t.Errorf("%s: new lines %v, want %s", name, actions, want)
		}
	}
}
