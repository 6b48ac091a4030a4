package authority

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/atomicfile"
	"homeworld.dev/homeworld/internal/disaster"
)

// On-disk names inside the workspace.
const (
	DirName     = "authorities"
	SealedName  = "private-keys.age"
	stagePrefix = ".authorities-staging-"
	oldPrefix   = ".authorities-old-"
	nameHeader  = "Authority"
)

// ErrExists is returned by Create when authorities are already present.
var ErrExists = errors.New("authorities already exist")

// Store reads and writes the authorities of one workspace.
type Store struct {
	workspace string
	// step, if set, runs after each file is staged and before the final swap;
	// tests use it to interrupt Create midway.
	step func(stage string) error
}

// NewStore returns the store of the workspace folder dir.
func NewStore(workspace string) *Store { return &Store{workspace: workspace} }

// Dir is the folder holding the authorities.
func (s *Store) Dir() string { return filepath.Join(s.workspace, DirName) }

// Exists reports whether authorities have been generated.
func (s *Store) Exists() bool {
	_, err := os.Stat(s.Dir())
	return err == nil
}

func publicName(spec Spec) string {
	if spec.Type == SSH {
		return string(spec.Name) + ".pub"
	}
	return string(spec.Name) + ".pem"
}

// Stager writes more sealed material into the staging folder before the
// swap, so an authority kept by another package (branch-signing, which the
// keyserver must not link) appears in the same all-or-nothing step.
type Stager func(stage string, key *disaster.Key) error

// Create writes set to the workspace: public halves in clear, private keys
// sealed with key, then whatever extras stage. It never leaves a partial
// result: everything is staged in a sibling folder and swapped in with one
// rename. With force it replaces existing authorities, but only if key opens
// them, so a mistyped key path cannot destroy the cluster's trust.
func (s *Store) Create(ctx context.Context, set *Set, key *disaster.Key, force bool, extras ...Stager) (err error) {
	s.removeStale()
	exists := s.Exists()
	if exists {
		if !force {
			return fmt.Errorf("%w in %s", ErrExists, s.Dir())
		}
		if _, err := s.Load(key); err != nil {
			return fmt.Errorf("refusing to replace the existing authorities: %w", err)
		}
	}
	stage, err := os.MkdirTemp(s.workspace, stagePrefix)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(stage)
		}
	}()
	if err := os.Chmod(stage, 0o755); err != nil {
		return err
	}
	var bundle []byte
	for _, a := range set.List {
		pub, err := encodePublic(a)
		if err != nil {
			return err
		}
		if err := s.stageFile(ctx, filepath.Join(stage, publicName(a.Spec)), pub, 0o644); err != nil {
			return err
		}
		der, err := x509MarshalPKCS8(a)
		if err != nil {
			return err
		}
		bundle = append(bundle, pem.EncodeToMemory(&pem.Block{
			Type: "PRIVATE KEY", Headers: map[string]string{nameHeader: string(a.Name)}, Bytes: der,
		})...)
	}
	sealed, err := key.Seal(bundle)
	clear(bundle)
	if err != nil {
		return fmt.Errorf("sealing private keys: %w", err)
	}
	if err := s.stageFile(ctx, filepath.Join(stage, SealedName), sealed, 0o600); err != nil {
		return err
	}
	for _, extra := range extras {
		if err := extra(stage, key); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
	}
	if err := syncDir(stage); err != nil {
		return err
	}
	return s.swapIn(stage, exists)
}

func x509MarshalPKCS8(a *Authority) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(a.Signer)
	if err != nil {
		return nil, fmt.Errorf("encoding %s private key: %w", a.Name, err)
	}
	return der, nil
}

func encodePublic(a *Authority) ([]byte, error) {
	if a.Type == SSH {
		return ssh.MarshalAuthorizedKey(a.SSHKey), nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Cert.Raw}), nil
}

// stageFile writes and fsyncs one file, then gives a cancelled context or the
// test hook the chance to abort.
func (s *Store) stageFile(ctx context.Context, path string, data []byte, mode os.FileMode) error {
	if err := atomicfile.WriteNew(path, data, mode); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	if s.step != nil {
		return s.step(filepath.Base(path))
	}
	return nil
}

// swapIn makes the staged folder the live one. With an old folder present,
// it is moved aside first and restored if the second rename fails.
func (s *Store) swapIn(stage string, replace bool) error {
	if !replace {
		if err := os.Rename(stage, s.Dir()); err != nil {
			return err
		}
		return syncDir(s.workspace)
	}
	old, err := os.MkdirTemp(s.workspace, oldPrefix)
	if err != nil {
		return err
	}
	os.Remove(old) // only the unique name is wanted
	if err := os.Rename(s.Dir(), old); err != nil {
		return err
	}
	if err := os.Rename(stage, s.Dir()); err != nil {
		if rerr := os.Rename(old, s.Dir()); rerr != nil {
			return fmt.Errorf("%v; and restoring the previous authorities from %s failed: %v", err, old, rerr)
		}
		return err
	}
	if err := syncDir(s.workspace); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// removeStale deletes staging folders left by a process that was killed.
// They never hold plaintext keys, only an incomplete set of files.
func (s *Store) removeStale() {
	entries, _ := os.ReadDir(s.workspace)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), stagePrefix) {
			os.RemoveAll(filepath.Join(s.workspace, e.Name()))
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
