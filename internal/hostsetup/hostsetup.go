// Package hostsetup is what spire does on a real host, over SSH: the
// original's `setup`, `infra install-packages` and admission steps, written
// as files put on the host and units driven through systemd. Every step is
// idempotent: a file whose content and mode are already right is not
// written again, and a unit is restarted only when something it reads
// changed, so re-running a sequence changes nothing and restarts nothing.
package hostsetup

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

// Host is a machine spire drives as root; internal/remote's Client is one.
type Host interface {
	// Run runs a shell command, returning its standard output; a failure
	// names the host, the command and its standard error.
	Run(ctx context.Context, cmd string, stdin io.Reader) ([]byte, error)
	// WriteFile replaces path atomically and reports whether its content or
	// mode changed.
	WriteFile(ctx context.Context, path string, data []byte, mode os.FileMode) (bool, error)
	// ReadFile reads path; a missing file is os.ErrNotExist.
	ReadFile(ctx context.Context, path string) ([]byte, error)
}

// File is one file spire puts on a host.
type File struct {
	Path string // absolute, on the host
	Data []byte
	Mode os.FileMode
}

// Put writes files on h and reports whether any of them changed.
func Put(ctx context.Context, h Host, files []File) (changed bool, err error) {
	for _, f := range files {
		c, err := h.WriteFile(ctx, f.Path, f.Data, f.Mode)
		if err != nil {
			return changed, err
		}
		changed = changed || c
	}
	return changed, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@=+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// command joins argv into one shell command line.
func command(argv ...string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// Error is a step that failed on one host.
type Error struct {
	Host string
	Step string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s: %v", e.Host, e.Step, e.Err) }
func (e *Error) Unwrap() error { return e.Err }
