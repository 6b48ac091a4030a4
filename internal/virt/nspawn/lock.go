package nspawn

import (
	"context"

	"homeworld.dev/homeworld/internal/debimage"
)

// lockHost takes the host's lock, so that Boot and Stop of one host, from
// any processes, run one at a time; it waits for ctx at most.
func lockHost(ctx context.Context, h Host) (unlock func(), err error) {
	return debimage.Lock(ctx, h.lockPath())
}
