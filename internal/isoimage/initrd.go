package isoimage

import (
	"compress/gzip"
	"io"
	"os"
	"time"
)

// writeInitrd writes Debian's initrd followed by a gzip member holding
// files: the kernel unpacks concatenated archives in turn, so the files
// land in the installer's root without repacking Debian's archive.
func writeInitrd(w io.Writer, debian string, files []File, mtime time.Time) error {
	entries, err := cpioEntries(files)
	if err != nil {
		return err
	}
	in, err := os.Open(debian)
	if err != nil {
		return err
	}
	defer in.Close()
	if _, err := io.Copy(w, in); err != nil {
		return err
	}
	// The gzip header carries no name and no time, so it is the same
	// every run.
	z, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	if err := writeCPIO(z, entries, mtime); err != nil {
		return err
	}
	return z.Close()
}
