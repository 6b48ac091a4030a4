// Package atomicfile writes files that must never be half-written. WriteNew
// makes one that must not replace another (a new key, a new disaster key, a
// staged authority file): created exclusively, written, synced to disk and
// closed, and removed again on any failure. Replace swaps a file whole for
// a new one with exactly the mode asked for. Packages that keep keys import
// it.
package atomicfile

import (
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// WriteNew creates path with mode and data. If path exists it returns an
// error satisfying errors.Is(err, os.ErrExist) and leaves the file alone.
func WriteNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// Replace replaces path atomically with data and exactly mode: not
// renameio.WriteFile, which keeps the mode of the file it replaces, however
// loose, and not subject to the umask either.
func Replace(path string, data []byte, mode os.FileMode) error {
	f, err := renameio.NewPendingFile(path, renameio.WithStaticPermissions(mode), beside(path))
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.CloseAtomicallyReplace()
}

// beside puts the temporary file in path's own folder. Without it renameio
// first probes whether $TMPDIR is on the same filesystem as path, creating,
// renaming and removing two files on every write (and an inode on /tmp's
// filesystem each time, for a write that is not there).
func beside(path string) renameio.Option { return renameio.WithTempDir(filepath.Dir(path)) }
