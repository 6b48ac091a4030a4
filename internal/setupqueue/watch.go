package setupqueue

import (
	"context"
	"os"
	"path/filepath"

	"github.com/fsnotify/fsnotify"
)

// Watch tells, on the returned channel, when an item has arrived in dir
// (renamed or written into place), so the queue applies it within a
// second rather than at its next cycle. The channel holds one wake-up;
// more arriving before it is taken are the same one. The watch ends with
// ctx.
func Watch(ctx context.Context, dir string) (<-chan struct{}, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, err
	}
	wake := make(chan struct{}, 1)
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	go func() {
		defer w.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if _, item := ParseItem(filepath.Base(ev.Name)); item && ev.Has(fsnotify.Create) {
					signal()
				}
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
				signal() // events may be lost (an overflow): look anyway
			}
		}
	}()
	return wake, nil
}
