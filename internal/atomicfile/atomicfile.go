// Package atomicfile creates files that must never be half-written or
// replaced: a new key, a new disaster key, a staged authority file. The
// file is created exclusively, written, synced to disk and closed; on any
// failure it is removed again. Packages that make keys import it.
package atomicfile

import "os"

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
