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
