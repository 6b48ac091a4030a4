package isoimage

import (
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// cpioEntry is one member of a newc archive: a directory when data is nil
// and mode has os.ModeDir.
type cpioEntry struct {
	name string
	mode os.FileMode
	data []byte
}

// cpioEntries checks files and returns them with their parent directories,
// sorted so that every directory comes before what it holds (a parent's
// path is a prefix of its children's, so it sorts first).
func cpioEntries(files []File) ([]cpioEntry, error) {
	dirs := map[string]bool{}
	seen := map[string]bool{}
	var out []cpioEntry
	for _, f := range files {
		p := f.Path
		if p == "" || path.IsAbs(p) || path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../") {
			return nil, fmt.Errorf("initrd file %q: give a clean relative path such as \"preseed.cfg\" or \"homeworld/hosts\"", p)
		}
		if seen[p] {
			return nil, fmt.Errorf("initrd file %q is listed twice", p)
		}
		seen[p] = true
		mode := f.Mode.Perm()
		if mode == 0 {
			mode = 0o644
		}
		out = append(out, cpioEntry{name: p, mode: mode, data: f.Data})
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for d := range dirs {
		if seen[d] {
			return nil, fmt.Errorf("initrd file %q is also the folder of another file", d)
		}
		out = append(out, cpioEntry{name: d, mode: os.ModeDir | 0o755})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// writeCPIO writes entries as a newc ("070701") archive, the format the
// kernel unpacks into the initramfs. Owner root, one link each and the same
// mtime everywhere, so the bytes depend on the entries alone.
func writeCPIO(w io.Writer, entries []cpioEntry, mtime time.Time) error {
	ino := uint32(1)
	for _, e := range entries {
		m := uint32(e.mode.Perm())
		if e.mode.IsDir() {
			m |= 0o040000
		} else {
			m |= 0o100000
		}
		if err := writeCPIOEntry(w, ino, m, 1, mtime.Unix(), e.name, e.data); err != nil {
			return err
		}
		ino++
	}
	return writeCPIOEntry(w, 0, 0, 1, 0, "TRAILER!!!", nil)
}

func writeCPIOEntry(w io.Writer, ino, mode, nlink uint32, mtime int64, name string, data []byte) error {
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, uint32(mtime), len(data), 0, 0, 0, 0, len(name)+1, 0)
	// The name ends with NUL and is padded so that the data starts on a
	// four-byte boundary; the data is padded the same way.
	buf := append([]byte(hdr), name...)
	buf = append(buf, 0)
	buf = append(buf, make([]byte, pad4(len(buf)))...)
	buf = append(buf, data...)
	buf = append(buf, make([]byte, pad4(len(data)))...)
	_, err := w.Write(buf)
	return err
}

func pad4(n int) int { return (4 - n%4) % 4 }
