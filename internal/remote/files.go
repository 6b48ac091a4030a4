package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// WriteFile makes path on the host hold data with mode, and reports
// whether it changed anything. When the file already holds data with
// mode, it is left alone (not even its mtime changes), so re-running a
// setup changes nothing and restarts nothing. Otherwise the file is
// replaced atomically: data goes to a temp file in the same folder (mode
// 0600 until complete), which is synced, given its mode and renamed over
// path; missing parent folders are made (0755). A symlink at path is
// replaced by the file, not followed. data may be a secret: it goes over
// the command's stdin, never on a command line.
func (c *Client) WriteFile(ctx context.Context, p string, data []byte, mode os.FileMode) (changed bool, err error) {
	if err := checkPath(p); err != nil {
		return false, fmt.Errorf("%s: writing %s: %w", c.host, p, err)
	}
	if mode&^os.ModePerm != 0 {
		return false, fmt.Errorf("%s: writing %s: mode %v has more than permission bits", c.host, p, mode)
	}
	p = path.Clean(p)
	// Compare a hash, not the content, so an unchanged secret is not sent.
	state, err := c.run1(ctx, "checking "+p, fmt.Sprintf(
		"if [ -f %[1]s ] && [ ! -L %[1]s ]; then stat -c %%a -- %[1]s && sha256sum < %[1]s; fi", Quote(p)), nil)
	if err != nil {
		return false, err
	}
	if string(state) == fmt.Sprintf("%o\n%x  -\n", mode.Perm(), sha256.Sum256(data)) {
		return false, nil
	}
	if _, err := c.run1(ctx, "writing "+p, writeScript(p, len(data), mode), data); err != nil {
		return false, err
	}
	return true, nil
}

// writeScript replaces p with the size bytes on its stdin. The size check
// keeps a connection that broke mid-way from installing half a file.
func writeScript(p string, size int, mode os.FileMode) string {
	dir := Quote(path.Dir(p))
	return strings.Join([]string{
		"set -e",
		"umask 022",
		"mkdir -p -- " + dir,
		"t=$(mktemp -- " + Quote(path.Join(path.Dir(p), "."+path.Base(p)+".XXXXXX")) + ")",
		`trap 'rm -f -- "$t"' EXIT`,
		`cat > "$t"`,
		fmt.Sprintf(`got=$(stat -c %%s -- "$t"); if [ "$got" != %d ]; then echo "received $got of %d bytes" >&2; exit 1; fi`, size, size),
		fmt.Sprintf(`chmod %o -- "$t"`, mode.Perm()),
		`sync -- "$t"`,
		// -T: never move the file into a folder that is where it should go.
		`mv -fT -- "$t" ` + Quote(p),
		"trap - EXIT",
		// The rename is durable only once the folder is synced.
		"sync -- " + dir,
	}, "\n")
}

// missingStatus is how the read script says the file is missing: 66 is
// EX_NOINPUT, "cannot open input", which cat never exits with.
const missingStatus = 66

// ReadFile returns the content of path on the host. A missing file is an
// error wrapping os.ErrNotExist.
func (c *Client) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if err := checkPath(p); err != nil {
		return nil, fmt.Errorf("%s: reading %s: %w", c.host, p, err)
	}
	q := Quote(path.Clean(p))
	data, err := c.run1(ctx, "reading "+p, fmt.Sprintf("[ -e %s ] || exit %d; exec cat -- %s", q, missingStatus, q), nil)
	var exitErr *ExitError
	if errors.As(err, &exitErr) && exitErr.Code == missingStatus {
		return nil, fmt.Errorf("%s: reading %s: %w", c.host, p, fs.ErrNotExist)
	}
	return data, err
}

// run1 runs one of this package's scripts, named by what it does in errors.
func (c *Client) run1(ctx context.Context, label, script string, stdin []byte) ([]byte, error) {
	var stdout bytes.Buffer
	err := c.run(ctx, label, script, bytes.NewReader(stdin), &stdout, nil)
	return stdout.Bytes(), err
}

// checkPath refuses paths that are not absolute: relative ones would be
// relative to the login's home folder, which nobody means.
func checkPath(p string) error {
	if !path.IsAbs(p) || path.Clean(p) == "/" {
		return errors.New("the path on the host must be absolute and name a file")
	}
	return nil
}
