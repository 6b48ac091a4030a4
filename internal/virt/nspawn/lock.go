package nspawn

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockHost takes the host's lock, so that Boot and Stop of one host, from
// any processes, run one at a time; it waits for ctx at most.
func lockHost(ctx context.Context, h Host) (unlock func(), err error) {
	f, err := os.OpenFile(h.lockPath(), os.O_CREATE|os.O_RDWR, 0o644)
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
			return nil, fmt.Errorf("locking %s: %w", h.lockPath(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another Boot or Stop of %s: %w", h.Name, ctx.Err())
		case <-time.After(bootPoll):
		}
	}
}
