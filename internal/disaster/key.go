// Package disaster handles the disaster key: the offline passphrase file that
// protects the cluster's authorities (and later other workspace secrets) at
// rest. It seals and opens data with age's scrypt passphrase encryption. Only
// spire imports it; nothing on a node ever holds the disaster key.
package disaster

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"

	"homeworld.dev/homeworld/internal/atomicfile"
)

// MinPassphraseLen is the shortest passphrase accepted. The sealed files may
// be copied anywhere, so the passphrase alone must resist offline guessing.
const MinPassphraseLen = 16

// ErrWrongKey is returned when data was sealed with a different passphrase.
var ErrWrongKey = errors.New("the disaster key does not match: this data was sealed with a different passphrase")

// Key is a loaded disaster key.
type Key struct {
	path       string
	passphrase string
	workFactor int
}

// Load reads the passphrase from the first line of the file at path. The file
// must not be readable by group or others.
func Load(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("disaster key file %s does not exist (create one with `spire disaster-key gen %s`)", path, path)
		}
		return nil, fmt.Errorf("disaster key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("disaster key: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("disaster key %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("disaster key %s is accessible by group or others (mode %04o); run: chmod 600 %s", path, perm, path)
	}
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("disaster key %s: %w", path, err)
	}
	pass := strings.TrimRight(line, "\r\n")
	if len(pass) < MinPassphraseLen {
		return nil, fmt.Errorf("disaster key %s: the first line must be a passphrase of at least %d characters (it has %d)", path, MinPassphraseLen, len(pass))
	}
	return &Key{path: path, passphrase: pass}, nil
}

// Generate writes a new random passphrase to path with mode 0600, refusing to
// replace an existing file.
func Generate(path string) error {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return err
	}
	line := base64.RawURLEncoding.EncodeToString(buf) + "\n"
	if err := atomicfile.WriteNew(path, []byte(line), 0o600); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists; refusing to replace a disaster key", path)
		}
		return err
	}
	return nil
}

// Path is the file the key was loaded from.
func (k *Key) Path() string { return k.path }

// SetWorkFactor sets scrypt's log2 cost for Seal. The default (age's, 18) takes
// about a second here; tests lower it to stay fast.
func (k *Key) SetWorkFactor(logN int) { k.workFactor = logN }

// Seal encrypts plaintext under the passphrase.
func (k *Key) Seal(plaintext []byte) ([]byte, error) {
	r, err := age.NewScryptRecipient(k.passphrase)
	if err != nil {
		return nil, err
	}
	if k.workFactor > 0 {
		r.SetWorkFactor(k.workFactor)
	}
	var out bytes.Buffer
	w, err := age.Encrypt(&out, r)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Open decrypts data sealed by Seal; a different passphrase gives ErrWrongKey.
func (k *Key) Open(sealed []byte) ([]byte, error) {
	id, err := age.NewScryptIdentity(k.passphrase)
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(bytes.NewReader(sealed), id)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return nil, ErrWrongKey
		}
		return nil, fmt.Errorf("decrypting: %w", err)
	}
	return io.ReadAll(r)
}
