package branchkey

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"homeworld.dev/homeworld/internal/atomicfile"
	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/disaster"
)

// On-disk names: a folder inside the workspace's authorities/ folder, so
// the key appears or is added in one rename.
const (
	DirName     = string(Name)
	KeyringName = "keyring.gpg" // binary public keyring, for signed-by
	ArmoredName = "keyring.asc" // the same, armored
	SealedName  = "private-key.age"
	stagePrefix = ".branch-signing-staging-"
)

// AddCommand is what gives an existing workspace the authority. Workspaces
// made before branch-signing existed lack it, and every command that needs
// it names this command when it is missing.
const AddCommand = "spire authority add " + DirName

// ErrMissing says the workspace has no branch-signing authority.
var ErrMissing = errors.New("no " + DirName + " authority")

// Dir is the authority's folder in workspace.
func Dir(workspace string) string {
	return filepath.Join(authority.NewStore(workspace).Dir(), DirName)
}

// Exists reports whether workspace holds the authority.
func Exists(workspace string) bool {
	_, err := os.Stat(filepath.Join(Dir(workspace), KeyringName))
	return err == nil
}

// Stage returns the authority.Stager that puts k into the authorities
// being created, so `spire authority gen` makes it with the others.
func Stage(k *Key) authority.Stager {
	return func(stage string, key *disaster.Key) error {
		dir := filepath.Join(stage, DirName)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		return writeFiles(dir, k, key)
	}
}

// Add gives an existing workspace the authority. It refuses unless key
// opens the existing authorities, so the new private key is sealed with
// the cluster's own disaster key, and it never replaces a key that exists.
func Add(ctx context.Context, workspace string, k *Key, key *disaster.Key) (err error) {
	store := authority.NewStore(workspace)
	if !store.Exists() {
		return fmt.Errorf("no authorities in %s (create them with `spire authority gen`, which makes %s too)", workspace, DirName)
	}
	if Exists(workspace) {
		return fmt.Errorf("%s already exists in %s", DirName, Dir(workspace))
	}
	if _, err := store.Load(key); err != nil {
		return fmt.Errorf("refusing to add %s: %w", DirName, err)
	}
	removeStale(store.Dir())
	stage, err := os.MkdirTemp(store.Dir(), stagePrefix)
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
	if err := writeFiles(stage, k, key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	if err := syncDir(stage); err != nil {
		return err
	}
	// A half-failed earlier add may have left an incomplete folder (no
	// keyring, so Exists said no); it holds nothing worth keeping.
	os.RemoveAll(Dir(workspace))
	if err := os.Rename(stage, Dir(workspace)); err != nil {
		return err
	}
	return syncDir(store.Dir())
}

// writeFiles seals the private half and writes both public forms; the
// binary keyring, whose presence means "exists", comes last.
func writeFiles(dir string, k *Key, key *disaster.Key) error {
	priv, err := k.privateBytes()
	if err != nil {
		return fmt.Errorf("encoding the %s private key: %w", DirName, err)
	}
	sealed, err := key.Seal(priv)
	clear(priv)
	if err != nil {
		return fmt.Errorf("sealing the %s private key: %w", DirName, err)
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{SealedName, sealed, 0o600},
		{ArmoredName, k.Armored(), 0o644},
		{KeyringName, k.Keyring(), 0o644},
	} {
		if err := atomicfile.WriteNew(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// LoadPublic reads the public half; it needs no disaster key.
func LoadPublic(workspace string) (*Key, error) {
	path := filepath.Join(Dir(workspace), KeyringName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s (workspaces made before it existed lack it): add it with `%s`", ErrMissing, workspace, AddCommand)
	}
	if err != nil {
		return nil, err
	}
	k, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if k.HasPrivate() {
		return nil, fmt.Errorf("%s holds a private key; it must hold the public key only", path)
	}
	return k, nil
}

// Load reads the public half and unseals the private one with key, checking
// that they belong together.
func Load(workspace string, key *disaster.Key) (*Key, error) {
	pub, err := LoadPublic(workspace)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(Dir(workspace), SealedName)
	sealed, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	data, err := key.Open(sealed)
	if err != nil {
		if errors.Is(err, disaster.ErrWrongKey) {
			return nil, fmt.Errorf("%s: %w (is HOMEWORLD_DISASTER=%s the key of this cluster?)", path, err, key.Path())
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer clear(data)
	k, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !k.HasPrivate() {
		return nil, fmt.Errorf("%s holds no private key", path)
	}
	if k.Fingerprint() != pub.Fingerprint() {
		return nil, fmt.Errorf("%s: the private key (%s) does not match %s (%s)", path, k.Fingerprint(), KeyringName, pub.Fingerprint())
	}
	return k, nil
}

// removeStale deletes staging folders of an add that was killed midway.
func removeStale(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), stagePrefix) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
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
