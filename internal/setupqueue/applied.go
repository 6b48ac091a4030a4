package setupqueue

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/kubeapply"
)

// Record is one line of the audit log: an item applied.
type Record struct {
	Time     time.Time `json:"time"`
	Item     string    `json:"item"`
	Manifest string    `json:"manifest"`
	SHA256   string    `json:"sha256"`  // of the item's content
	Objects  []string  `json:"objects"` // "configmap/x created", in the manifest's order
}

// done records an applied item in the audit log, then moves it into
// applied/. The record comes first: after a crash in between, the item is
// applied and recorded again, which is better than an application missing
// from the log.
func (q *Queue) done(it Item, data []byte, results []kubeapply.Result) error {
	sum := sha256.Sum256(data)
	r := Record{Time: time.Now().UTC(), Item: it.File, Manifest: it.Manifest, SHA256: hex.EncodeToString(sum[:])}
	for _, res := range results {
		r.Objects = append(r.Objects, res.String())
	}
	applied := filepath.Join(q.cfg.Dir, AppliedDir)
	if err := appendRecord(filepath.Join(applied, AuditLog), r); err != nil {
		return err
	}
	err := os.Rename(filepath.Join(q.cfg.Dir, it.File), filepath.Join(applied, it.File))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed meanwhile: it is in, which is what counts
	}
	if err != nil {
		return err
	}
	if err := syncDir(applied); err != nil {
		return err
	}
	return syncDir(q.cfg.Dir)
}

// appendRecord appends r as one line, in a single write, and syncs it.
func appendRecord(path string, r Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// prune removes the oldest applied items beyond Keep; the audit log still
// names them.
func (q *Queue) prune() {
	applied := filepath.Join(q.cfg.Dir, AppliedDir)
	items, _, err := list(applied)
	if err != nil || len(items) <= q.cfg.Keep {
		return
	}
	for _, it := range items[:len(items)-q.cfg.Keep] {
		if err := os.Remove(filepath.Join(applied, it.File)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			q.cfg.Logf("setup-queue: pruning applied items: %v", err)
			return
		}
	}
}

// summarize is the objects' outcomes, for the log: "configmap/a created,
// configmap/b unchanged".
func summarize(results []kubeapply.Result) string {
	if len(results) == 0 {
		return "no objects"
	}
	parts := make([]string, len(results))
	for i, r := range results {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// Applied returns the audit log's records of the given item files (base
// names) in the queue at dir; items not yet applied are absent.
func Applied(dir string, files []string) (map[string]Record, error) {
	data, err := os.ReadFile(filepath.Join(dir, AppliedDir, AuditLog))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Record{}, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseApplied(data, files), nil
}

// ParseApplied picks the records of the given item files out of an audit
// log's content (read from another machine).
func ParseApplied(data []byte, files []string) map[string]Record {
	want := map[string]bool{}
	for _, f := range files {
		want[filepath.Base(f)] = true
	}
	out := map[string]Record{}
	for _, line := range strings.Split(string(data), "\n") {
		var r Record
		if json.Unmarshal([]byte(line), &r) == nil && want[r.Item] {
			out[r.Item] = r
		}
	}
	return out
}
