package hostsetup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/setupqueue"
)

// Manifest is one item for the supervisor's setup queue.
type Manifest struct {
	Name string
	Text string
}

// Enqueue writes manifests into the setup queue in folder dir (on a
// supervisor, setupqueue.DefaultDir) of host h, in order, and returns the
// items' file names. The queue applies them; the
// write is atomic, so it never sees half an item.
func Enqueue(ctx context.Context, h Host, dir string, ms []Manifest) ([]string, error) {
	var items []string
	seq := setupqueue.SeqOf(time.Now())
	for i, m := range ms {
		if err := setupqueue.Check(m.Name, m.Text); err != nil {
			return items, err
		}
		file, err := setupqueue.FileName(seq+int64(i), m.Name)
		if err != nil {
			return items, err
		}
		if _, err := h.WriteFile(ctx, path.Join(dir, file), []byte(m.Text), 0o600); err != nil {
			return items, err
		}
		items = append(items, file)
	}
	return items, nil
}

// WaitApplied waits until the queue in dir on h has applied every item and
// returns their records in order.
func WaitApplied(ctx context.Context, h Host, dir string, items []string) ([]setupqueue.Record, error) {
	log := path.Join(dir, setupqueue.AppliedDir, setupqueue.AuditLog)
	var done map[string]setupqueue.Record
	for {
		data, err := h.ReadFile(ctx, log)
		switch {
		case err != nil && ctx.Err() != nil:
			// The wait ended during a read: what still waits is the
			// answer, not the interrupted read. (A read that finished
			// is still used, even if the deadline passed meanwhile.)
			return nil, notApplied(items, done)
		case err != nil && !errors.Is(err, os.ErrNotExist):
			return nil, err
		}
		done = setupqueue.ParseApplied(data, items)
		if len(done) == len(items) {
			out := make([]setupqueue.Record, len(items))
			for i, it := range items {
				out[i] = done[it]
			}
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, notApplied(items, done)
		case <-time.After(time.Second):
		}
	}
}

// notApplied names the items not in done, the last applied set read.
func notApplied(items []string, done map[string]setupqueue.Record) error {
	var waiting []string
	for _, it := range items {
		if _, ok := done[it]; !ok {
			waiting = append(waiting, it)
		}
	}
	return fmt.Errorf("the setup queue has not applied %s (journalctl -u setup-queue on the supervisor says why)", strings.Join(waiting, ", "))
}
