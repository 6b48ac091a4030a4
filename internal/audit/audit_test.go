package audit

import (
	"encoding/json"
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
	l.Reopen() // reports that /dev/full cannot be synced; reopens anyway
	record("recovered")
	if cur, _ := os.ReadFile(path); !strings.Contains(string(cur), `"recovered"`) {
		t.Fatalf("after recovery: %q", cur)
	}
}
