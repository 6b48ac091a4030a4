package keyclient

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/atomicfile"
	"homeworld.dev/homeworld/internal/pki"
)

// unusableKeyError is a key file that exists but holds no key: empty,
// truncated or corrupt.
type unusableKeyError struct {
	path string
	err  error
}

func (e *unusableKeyError) Error() string { return e.path + " is unusable: " + e.err.Error() }

// readKey parses the private key at path, first setting its mode back to
// 0600 if someone loosened it.
func (a *Agent) readKey(path string) (crypto.Signer, error) {
	a.tighten(path, 0o600)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := pki.ParseKey(data)
	if err != nil {
		return nil, &unusableKeyError{path, err}
	}
	return key, nil
}

// ensureKey loads the private key at path, making one if there is none. A
// key file that cannot be parsed is replaced: nothing can be using it, and
// the certificate for the new key is fetched next.
func (a *Agent) ensureKey(path string, gen func() (crypto.Signer, error)) (crypto.Signer, error) {
	key, err := a.readKey(path)
	var bad *unusableKeyError
	switch {
	case err == nil:
		return key, nil
	case errors.As(err, &bad):
		a.opts.Logf("keyclient: %v; replacing it with a new key", err)
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	if key, err = gen(); err != nil {
		return nil, err
	}
	encoded, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	if bad != nil {
		return key, writeFile(path, encoded, 0o600)
	}
	// Created exclusively, so two writers never clobber a key in use: if
	// another made it first, that one is the key.
	if err := writeNew(path, encoded, 0o600); errors.Is(err, os.ErrExist) {
		return a.readKey(path)
	} else if err != nil {
		return nil, err
	}
	return key, nil
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return pki.EncodeKey(key)
	}
	block, err := ssh.MarshalPrivateKey(ed, "")
	if err != nil {
		return nil, err
	}
	return pemEncode(block), nil
}

// writePub keeps the public half beside an SSH host key, which admins and
// ssh-keygen read, the key's own, also after the key was replaced.
func writePub(path string, pub ssh.PublicKey) error {
	if data, err := os.ReadFile(path); err == nil {
		if k, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil && bytes.Equal(k.Marshal(), pub.Marshal()) {
			return nil
		}
	}
	return writeFile(path, ssh.MarshalAuthorizedKey(pub), 0o644)
}

// tighten sets an existing file back to mode if it grants more than mode,
// so a key stays private even after someone ran chmod on it.
func (a *Agent) tighten(path string, mode os.FileMode) {
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&^mode == 0 {
		return
	}
	if err := os.Chmod(path, mode); err != nil {
		a.opts.Logf("keyclient: %s has mode %04o, more than %04o: %v", path, st.Mode().Perm(), mode, err)
		return
	}
	a.opts.Logf("keyclient: %s had mode %04o; set it back to %04o", path, st.Mode().Perm(), mode)
}

// writeFile replaces path atomically with exactly mode, making its folder.
func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Replace(path, data, mode)
}

// writeNew creates path exclusively; it fails with os.ErrExist if the file
// is there.
func writeNew(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteNew(path, data, mode)
}
