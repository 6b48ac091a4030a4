package setupqueue

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// Enqueue adds manifest to the queue in dir (created if missing) as the
// newest item, under the short name (see CheckManifestName), and returns
// the item's path. The file appears whole or not at all: it is written to
// a hidden temporary file, synced, then linked under its item name, and
// the folder is synced, so a crash leaves no partial item. The item's mode
// is 0600. Concurrent enqueuers take turns on a lock of the folder, so
// sequences never repeat.
//
// Enqueueing what is already pending adds a second item rather than
// merging with the first: applying is idempotent, and the newer item keeps
// its place after whatever was enqueued in between.
//
// The manifest must be YAML documents that each name an apiVersion and a
// kind, so a spire bug is caught here rather than on the supervisor.
func Enqueue(dir, name, manifest string) (string, error) {
	if err := CheckManifestName(name); err != nil {
		return "", err
	}
	if err := checkManifest(manifest); err != nil {
		return "", fmt.Errorf("manifest %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".enqueue-*.tmp") // mode 0600
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(manifest)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	// Enqueuers take turns (a lock on the folder), so each gets a
	// sequence of its own, later than every item before it.
	unlock, err := lock(dir)
	if err != nil {
		return "", err
	}
	defer unlock()
	seq, err := nextSeq(dir)
	if err != nil {
		return "", err
	}
	// An item uploaded without the lock (FileName) may hold the name:
	// Link, unlike Rename, refuses to replace it, and the next sequence
	// is tried.
	for range 1000 {
		file, err := FileName(seq, name)
		if err != nil {
			return "", err
		}
		path := filepath.Join(dir, file)
		err = os.Link(tmp.Name(), path)
		if errors.Is(err, os.ErrExist) {
			seq++
			continue
		}
		if err != nil {
			return "", err
		}
		return path, syncDir(dir)
	}
	return "", fmt.Errorf("enqueue %s: no free item name after %d tries", name, 1000)
}

// Check refuses what Enqueue would refuse, for an item written to the
// queue of another machine.
func Check(name, manifest string) error {
	if err := CheckManifestName(name); err != nil {
		return err
	}
	if err := checkManifest(manifest); err != nil {
		return fmt.Errorf("manifest %s: %w", name, err)
	}
	return nil
}

// nextSeq is now, or just after the newest item pending or applied if
// the clock has gone back, so a new item always sorts last.
func nextSeq(dir string) (int64, error) {
	seq := SeqOf(time.Now())
	for _, d := range []string{dir, filepath.Join(dir, AppliedDir)} {
		items, _, err := list(d)
		if err != nil {
			return 0, err
		}
		if n := len(items); n > 0 && items[n-1].Seq >= seq {
			seq = items[n-1].Seq + 1
		}
	}
	return seq, nil
}

// checkManifest accepts YAML documents that each have an apiVersion and a
// kind, and at least one such document.
func checkManifest(content string) error {
	dec := yaml.NewDecoder(bytes.NewReader([]byte(content)))
	objects := 0
	for i := 1; ; i++ {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
		if doc == nil {
			continue // an empty document, as "---" at the end makes
		}
		m, ok := doc.(map[string]any)
		if !ok {
			return fmt.Errorf("document %d is not a mapping", i)
		}
		for _, field := range []string{"apiVersion", "kind"} {
			if s, _ := m[field].(string); s == "" {
				return fmt.Errorf("document %d has no %s", i, field)
			}
		}
		objects++
	}
	if objects == 0 {
		return errors.New("no objects")
	}
	return nil
}

// lock takes an exclusive lock on the folder dir until unlock is called.
func lock(dir string) (unlock func(), err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX); err != nil {
		d.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() { d.Close() }, nil // closing releases the lock
}

// syncDir makes the folder's entries (a new name, a rename) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
