package keytab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"homeworld.dev/homeworld/internal/disaster"
)

// Enctypes are the key types a rotation makes: the AES ones that both MIT
// and gokrb5 (the key gateway's Kerberos) support.
const Enctypes = "aes256-cts-hmac-sha1-96:normal,aes128-cts-hmac-sha1-96:normal"

// Tools runs MIT's k5srvutil, which changes a keytab's keys through
// kadmind, authenticating as each principal with the keytab's own key, so
// no admin password is needed.
type Tools struct {
	// Env is k5srvutil's environment (KRB5_CONFIG names the realm's
	// kadmind, PATH finds kadmin and klist); nil is spire's own.
	Env []string
	// TempDir holds the keytab in clear while k5srvutil runs; "" is
	// os.TempDir(), which is not the workspace: that may be backed up
	// or synced.
	TempDir string
}

// Change is a keytab's entries before and after k5srvutil changed it, and
// what k5srvutil printed.
type Change struct {
	Before, After []Entry
	Output        string
}

// Rotate gives each principal of node's keytab a new random key (kvno + 1)
// in the realm and the keytab, keeping the old keys, which tickets issued
// before still need, until DeleteOld.
func (tl Tools) Rotate(ctx context.Context, wsDir, node string, key *disaster.Key) (*Change, error) {
	c, before, err := tl.open(wsDir, node, key)
	if err != nil {
		return nil, err
	}
	err = tl.run(ctx, c, before, wsDir, node, key, "change", "-e", Enctypes)
	was, now := Newest(c.Before), Newest(c.After)
	var stale []string
	for _, p := range Principals(c.Before) {
		if now[p] <= was[p] {
			stale = append(stale, fmt.Sprintf("%s (still kvno %d)", p, now[p]))
		}
	}
	if len(stale) > 0 {
		saved := ""
		if len(stale) < len(was) {
			saved = "; the keys it did change are saved"
		}
		err = errors.Join(err, fmt.Errorf("k5srvutil did not change the key of %s%s. Its output:\n%s", strings.Join(stale, ", "), saved, c.Output))
	}
	return c, err
}

// DeleteOld removes from node's keytab every key older than each
// principal's newest. Do it once the tickets issued for the old keys have
// expired (the realm's maximum ticket life after Rotate). With no old keys
// it does nothing, without asking kadmind.
func (tl Tools) DeleteOld(ctx context.Context, wsDir, node string, key *disaster.Key) (*Change, error) {
	c, before, err := tl.open(wsDir, node, key)
	if err != nil {
		return nil, err
	}
	if len(old(c.Before)) == 0 {
		return c, nil
	}
	err = tl.run(ctx, c, before, wsDir, node, key, "delold")
	if left := old(c.After); len(left) > 0 {
		err = errors.Join(err, fmt.Errorf("k5srvutil left old keys: %s. Its output:\n%s", strings.Join(left, ", "), c.Output))
	}
	return c, err
}

// old lists the entries older than their principal's newest.
func old(entries []Entry) []string {
	newest := Newest(entries)
	var out []string
	for _, e := range entries {
		if e.KVNO < newest[e.Principal] {
			out = append(out, fmt.Sprintf("%s kvno %d %s", e.Principal, e.KVNO, e.Enctype))
		}
	}
	return out
}

// open unseals node's keytab into a Change whose After is its Before.
func (tl Tools) open(wsDir, node string, key *disaster.Key) (*Change, []byte, error) {
	if _, err := exec.LookPath("k5srvutil"); err != nil {
		return nil, nil, fmt.Errorf("k5srvutil not found: install krb5-user, whose k5srvutil and kadmin change keytab keys (%w)", err)
	}
	data, err := Unseal(wsDir, node, key)
	if err != nil {
		return nil, nil, err
	}
	entries, err := Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", SealedPath(wsDir, node), err)
	}
	return &Change{Before: entries, After: entries}, data, nil
}

// run runs k5srvutil with args on the keytab before, in a private temp
// file, and reseals what it leaves even if it failed: it may have changed
// some keys in the realm already, and then only the new keytab has them.
// Its errors leave out k5srvutil's output, which is in c.Output: the
// callers judge by the keytab what went wrong and show it.
func (tl Tools) run(ctx context.Context, c *Change, before []byte, wsDir, node string, key *disaster.Key, args ...string) error {
	var out bytes.Buffer
	after, runErr := tl.inClear(before, func(path string) error {
		cmd := exec.CommandContext(ctx, "k5srvutil", append([]string{"-f", path}, args...)...)
		cmd.Env = tl.Env
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("k5srvutil %s: %w", args[0], err)
		}
		return nil
	})
	c.Output = out.String()
	if after == nil || bytes.Equal(after, before) {
		return runErr
	}
	entries, err := Parse(after)
	if err != nil {
		return errors.Join(runErr, fmt.Errorf("k5srvutil %s left a keytab that does not parse (%w); the stored one is unchanged, but if the realm has new keys it no longer matches: make a new one with an admin's kadmin (`ktadd -k FILE PRINCIPAL...`) and import it with --force", args[0], err))
	}
	if err := seal(SealedPath(wsDir, node), after, key, true); err != nil {
		return errors.Join(runErr, fmt.Errorf("%w; the keys k5srvutil made are lost with it, so the stored keytab no longer matches the realm: make a new one with an admin's kadmin (`ktadd -k FILE PRINCIPAL...`) and import it with --force", err))
	}
	c.After = entries
	return runErr
}

// inClear writes data to a file only its owner reads, in a new private
// folder, runs fn on its path and returns the file's content afterwards
// (nil if it could not be read). The file is overwritten with zeros and
// removed, with its folder, whatever happens.
func (tl Tools) inClear(data []byte, fn func(path string) error) ([]byte, error) {
	dir, err := os.MkdirTemp(tl.TempDir, "spire-keytab-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "keytab")
	defer func() {
		scrub(path)
		os.RemoveAll(dir)
	}()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, err
	}
	runErr := fn(path)
	after, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	return after, runErr
}

// scrub overwrites the file at path with zeros, so its keys do not linger
// in freed disk blocks after it is removed.
func scrub(path string) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		f.Write(make([]byte, st.Size()))
		f.Sync()
	}
}
