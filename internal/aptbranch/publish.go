package aptbranch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"
)

// target is where a branch is published. out is a symbolic link to a
// sibling folder named after the contents (.<base>.<hash>): a new build is
// staged in another sibling, renamed to its own name, and the link is
// replaced with one rename, so a web server serving out sees the old branch
// or the new one, never half of one.
type target struct {
	out, parent, base string
	version           *regexp.Regexp // the names of published folders
}

func newTarget(out string) (*target, error) {
	abs, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	t := &target{out: abs, parent: filepath.Dir(abs), base: filepath.Base(abs)}
	if t.parent == abs {
		return nil, fmt.Errorf("--out %s: cannot publish at the root", out)
	}
	t.version = regexp.MustCompile(`^\.` + regexp.QuoteMeta(t.base) + `\.[0-9a-f]{16}$`)
	return t, nil
}

func (t *target) versionName(hash string) string { return "." + t.base + "." + hash }
func (t *target) stagePrefix() string            { return "." + t.base + ".staging-" }
func (t *target) linkPrefix() string             { return "." + t.base + ".link-" }

// isVersion matches the folders a link may point to.
func (t *target) isVersion(name string) bool { return t.version.MatchString(name) }

// current returns the folder out links to ("" when nothing is published).
// Anything else at out is refused: it is not ours to replace.
func (t *target) current() (string, error) {
	st, err := os.Lstat(t.out)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		dest, err := os.Readlink(t.out)
		if err != nil {
			return "", err
		}
		if t.isVersion(dest) {
			return dest, nil
		}
	}
	return "", fmt.Errorf("--out %s exists and is not a branch published by `spire branch build` (a link to a sibling .%s.<hash> folder); remove it or choose another path", t.out, t.base)
}

// lock keeps two builds from publishing beside each other at once. It locks
// the parent folder itself, so a refused build leaves no lock file behind.
func (t *target) lock() (unlock func(), err error) {
	f, err := os.Open(t.parent)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another `spire branch build` is publishing in %s (%v)", t.parent, err)
	}
	return func() { f.Close() }, nil
}

// stage makes the folder a build is written to, first removing what a
// killed build left (the lock says none is running).
func (t *target) stage() (string, error) {
	t.removeExcept("")
	dir, err := os.MkdirTemp(t.parent, t.stagePrefix())
	if err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o755)
}

// swap publishes the staged folder under its content hash. It reports
// false when that exact branch is what out already shows.
func (t *target) swap(stage, hash string) (bool, error) {
	name := t.versionName(hash)
	if cur, _ := os.Readlink(t.out); cur == name {
		return false, os.RemoveAll(stage)
	}
	dest := filepath.Join(t.parent, name)
	// A killed build may have renamed a folder of this name and died before
	// linking it; the contents are the same, but start clean.
	if err := os.RemoveAll(dest); err != nil {
		return false, err
	}
	if err := os.Rename(stage, dest); err != nil {
		return false, err
	}
	link := filepath.Join(t.parent, t.linkPrefix()+hash)
	os.Remove(link)
	if err := os.Symlink(name, link); err != nil {
		return false, err
	}
	if err := os.Rename(link, t.out); err != nil {
		os.Remove(link)
		return false, err
	}
	if err := syncDir(t.parent); err != nil {
		return false, err
	}
	// Old versions are unreachable now: every URL goes through the link.
	t.removeExcept(name)
	return true, nil
}

// removeExcept deletes this target's staging folders, stray links and
// versions other than keep ("" keeps the one out links to).
func (t *target) removeExcept(keep string) {
	if keep == "" {
		keep, _ = os.Readlink(t.out)
	}
	entries, _ := os.ReadDir(t.parent)
	for _, e := range entries {
		n := e.Name()
		if n != keep && (t.isVersion(n) || strings.HasPrefix(n, t.stagePrefix()) || strings.HasPrefix(n, t.linkPrefix())) {
			os.RemoveAll(filepath.Join(t.parent, n))
		}
	}
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
