package debimage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockPoll is how often a waiting maker retries the lock: making an
// archive takes from seconds to minutes, so a quarter second is nothing.
const lockPoll = 250 * time.Millisecond

// Cached returns the archive name in Dir, calling make to write it (to the
// path tmp make is given, renamed into place only once make succeeds) if
// it does not exist yet. make may use tmp+".work" as its work folder. One maker at a time per name across processes: the
// others wait on a lock file beside it, then find the archive made.
func Cached(ctx context.Context, name string, make func(ctx context.Context, tmp string) error) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, name)
	if _, err := os.Stat(file); err == nil {
		return file, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := Lock(ctx, file+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(file); err == nil {
		return file, nil
	}
	// What a maker that died left (its archive, its work folder) goes:
	// only a holder of the lock makes, and that is this call now.
	stale, _ := filepath.Glob(file + ".*.tmp*")
	for _, p := range stale {
		os.RemoveAll(p)
	}
	tmp := fmt.Sprintf("%s.%d.tmp", file, os.Getpid())
	defer os.Remove(tmp)
	if err := make(ctx, tmp); err != nil {
		return "", err
	}
	return file, os.Rename(tmp, file)
}

// Lock takes an exclusive flock on path (made if missing), waiting for ctx
// at most: one maker of a cached root, or one Boot or Stop of a host, at a
// time, across processes.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for whoever holds %s: %w", path, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}
