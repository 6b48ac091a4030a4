package debimage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// TestCachedMakesOnce: callers racing for a missing archive make it once,
// and all get it; a failed make leaves nothing behind for the next caller.
func TestCachedMakesOnce(t *testing.T) {
	t.Setenv("HOMEWORLD_CACHE", t.TempDir())
	ctx := context.Background()
	if _, err := Cached(ctx, "x.tar", func(ctx context.Context, tmp string) error {
		os.WriteFile(tmp, []byte("half"), 0o644)
		return errors.New("failed")
	}); err == nil {
		t.Fatal("Cached succeeded although make failed")
	}
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	// A maker that died left its work folder.
	stale := filepath.Join(dir, "x.tar.1.tmp.work")
	if err := os.MkdirAll(filepath.Join(stale, "root"), 0o755); err != nil {
		t.Fatal(err)
	}
	var makes atomic.Int32
	var wg sync.WaitGroup
	paths := make([]string, 4)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := Cached(ctx, "x.tar", func(ctx context.Context, tmp string) error {
				makes.Add(1)
				return os.WriteFile(tmp, []byte("made"), 0o644)
			})
			if err != nil {
				t.Error(err)
			}
			paths[i] = p
		}()
	}
	wg.Wait()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a dead maker's work folder is still there: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "x.tar.*tmp*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	if n := makes.Load(); n != 1 {
		t.Errorf("made %d times, want once", n)
	}
	for _, p := range paths {
		if data, err := os.ReadFile(p); err != nil || string(data) != "made" {
			t.Errorf("Cached = %s holding %q, %v; want the made archive", p, data, err)
		}
	}
}

// TestCachedWaitHonoursContext: a caller waiting for another maker gives up
// when its context ends.
func TestCachedWaitHonoursContext(t *testing.T) {
	t.Setenv("HOMEWORLD_CACHE", t.TempDir())
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, err := Lock(context.Background(), dir+"/y.tar.lock")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Cached(ctx, "y.tar", func(context.Context, string) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Cached with the lock held elsewhere and a cancelled context: %v, want context.Canceled", err)
	}
}
