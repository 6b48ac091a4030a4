package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/remote/remotetest"
)

// The test sshd runs on this machine, so what it writes is checked here.

func TestWriteFileCreatesFoldersAndSetsMode(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	c := s.dial(t, s.trusting(t))
	dir := t.TempDir()
	path := filepath.Join(dir, "etc", "homeworld", "key")
	changed, err := c.WriteFile(context.Background(), path, []byte("first\n"), 0o600)
	if err != nil || !changed {
		t.Fatalf("WriteFile = %v, %v; want a change", changed, err)
	}
	wantFile(t, path, "first\n", 0o600)
	for _, d := range []string{filepath.Join(dir, "etc"), filepath.Dir(path)} {
		if st, err := os.Stat(d); err != nil || st.Mode().Perm() != 0o755 {
			t.Errorf("parent folder %s: %v, %v; want mode 0755", d, st.Mode(), err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the file (no temp files left)", len(entries))
	}
}

// Re-running a setup must change nothing: an identical write leaves the
// file alone, while a new mode or content is a change.
func TestWriteFileIsIdempotent(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	c := s.dial(t, s.trusting(t))
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "unit.service")
	if _, err := c.WriteFile(ctx, path, []byte("[Unit]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// An mtime a while ago, so a rewrite could not keep it by chance.
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	before := stat(t, path)

	changed, err := c.WriteFile(ctx, path, []byte("[Unit]\n"), 0o644)
	if err != nil || changed {
		t.Fatalf("identical WriteFile = %v, %v; want no change", changed, err)
	}
	if after := stat(t, path); after.Ino != before.Ino || after.Mtim != before.Mtim {
		t.Errorf("identical WriteFile touched the file: inode %d→%d, mtime %v→%v", before.Ino, after.Ino, before.Mtim, after.Mtim)
	}

	changed, err = c.WriteFile(ctx, path, []byte("[Unit]\n"), 0o640)
	if err != nil || !changed {
		t.Fatalf("WriteFile with a new mode = %v, %v; want a change", changed, err)
	}
	wantFile(t, path, "[Unit]\n", 0o640)

	changed, err = c.WriteFile(ctx, path, []byte("[Unit]\nDescription=x\n"), 0o640)
	if err != nil || !changed {
		t.Fatalf("WriteFile with new content = %v, %v; want a change", changed, err)
	}
	wantFile(t, path, "[Unit]\nDescription=x\n", 0o640)

	changed, err = c.WriteFile(ctx, filepath.Join(t.TempDir(), "empty"), nil, 0o644)
	if err != nil || !changed {
		t.Fatalf("WriteFile of an empty file = %v, %v", changed, err)
	}
}

// A private key must never be on a command line, which the host's process
// list shows: it goes over stdin. The test sshd records every command line
// it is asked to run.
func TestWriteFileKeepsSecretsOffCommandLines(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{RecordCommands: true})
	c := s.dial(t, s.trusting(t))
	ctx := context.Background()
	const secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END OPENSSH PRIVATE KEY-----\n"
	path := filepath.Join(t.TempDir(), "ssh_host_ed25519_key")
	if _, err := c.WriteFile(ctx, path, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteFile(ctx, path, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	wantFile(t, path, secret, 0o600)
	commands := s.sshd.Commands()
	if len(commands) != 3 || !strings.Contains(commands[0], path) {
		t.Fatalf("recorded commands %q; want a check, a write and a check of %s", commands, path)
	}
	for _, cmd := range commands {
		if strings.Contains(cmd, "c2VjcmV0LWtleS1tYXRlcmlhbA") {
			t.Errorf("the secret is on the command line %q", cmd)
		}
	}
}

func TestWriteFileReplacesNotFollows(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	c := s.dial(t, s.trusting(t))
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target"), filepath.Join(dir, "link")
	os.WriteFile(target, []byte("same"), 0o644)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if changed, err := c.WriteFile(context.Background(), link, []byte("same"), 0o644); err != nil || !changed {
		t.Fatalf("WriteFile over a symlink = %v, %v; want a change", changed, err)
	}
	if st, _ := os.Lstat(link); !st.Mode().IsRegular() {
		t.Errorf("%s is %v, want a regular file", link, st.Mode())
	}
	// A folder where the file should be is an error, not a place to put it.
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	_, err := c.WriteFile(context.Background(), sub, []byte("x"), 0o644)
	var exitErr *ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("WriteFile onto a folder = %v, want an *ExitError", err)
	}
	wantContains(t, "error", err.Error(), "node1 (", "writing "+sub)
}

func TestWriteFileRefusesRelativePathsAndOddModes(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	c := s.dial(t, s.trusting(t))
	for _, p := range []string{"etc/x", "", "/"} {
		if _, err := c.WriteFile(context.Background(), p, nil, 0o644); err == nil || !strings.Contains(err.Error(), "absolute") {
			t.Errorf("WriteFile(%q) = %v, want a refusal", p, err)
		}
	}
	if _, err := c.WriteFile(context.Background(), "/tmp/x", nil, os.ModeSetuid|0o755); err == nil {
		t.Error("WriteFile with setuid succeeded")
	}
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	c := s.dial(t, s.trusting(t))
	dir := t.TempDir()
	path := filepath.Join(dir, "it's here")
	os.WriteFile(path, []byte("data\x00with nul"), 0o600)
	data, err := c.ReadFile(context.Background(), path)
	if err != nil || string(data) != "data\x00with nul" {
		t.Fatalf("ReadFile = %q, %v", data, err)
	}
	_, err = c.ReadFile(context.Background(), filepath.Join(dir, "missing"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadFile of a missing file = %v, want os.ErrNotExist", err)
	}
	wantContains(t, "error", err.Error(), "node1 (", filepath.Join(dir, "missing"))
	var exitErr *ExitError
	if _, err := c.ReadFile(context.Background(), dir); !errors.As(err, &exitErr) || errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile of a folder = %v, want an *ExitError", err)
	}
}

func wantFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if string(data) != content || st.Mode().Perm() != mode {
		t.Errorf("%s holds %q with mode %v; want %q with %v", path, data, st.Mode().Perm(), content, mode)
	}
}

func stat(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t)
}
