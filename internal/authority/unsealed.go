package authority

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// WriteUnsealed installs the authorities for the keyserver: public halves as
// in the workspace and each private key as NAME.key, mode 0600, in a folder
// only its owner can enter. This is the one place private keys of
// authorities exist in clear: the supervisor, which signs with them.
func (s *Set) WriteUnsealed(dir string) error {
	files, err := s.UnsealedFiles()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	for _, f := range files {
		if err := renameio.WriteFile(filepath.Join(dir, f.Name), f.Data, f.Mode); err != nil {
			return err
		}
	}
	return nil
}

// UnsealedFile is one file of the keyserver's authorities folder.
type UnsealedFile struct {
	Name string // in the folder
	Data []byte
	Mode os.FileMode
}

// UnsealedFiles are the files WriteUnsealed writes, for installing them on
// another machine (spire setup keyserver over SSH). The same set gives the
// same bytes, so re-installing changes nothing.
func (s *Set) UnsealedFiles() ([]UnsealedFile, error) {
	var files []UnsealedFile
	for _, a := range s.List {
		if a.Signer == nil {
			return nil, fmt.Errorf("authority %s has no private key loaded", a.Name)
		}
		pub, err := encodePublic(a)
		if err != nil {
			return nil, err
		}
		der, err := x509MarshalPKCS8(a)
		if err != nil {
			return nil, err
		}
		key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		files = append(files,
			UnsealedFile{Name: string(a.Name) + ".key", Data: key, Mode: 0o600},
			UnsealedFile{Name: publicName(a.Spec), Data: pub, Mode: 0o644})
	}
	return files, nil
}

// LoadUnsealed reads a folder written by WriteUnsealed, checking every
// private key against its public half.
func LoadUnsealed(dir string) (*Set, error) {
	set, err := (&Store{}).loadPublicFrom(dir)
	if err != nil {
		return nil, err
	}
	for _, a := range set.List {
		path := filepath.Join(dir, string(a.Name)+".key")
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		block, _ := pem.Decode(data)
		if block == nil || block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("%s: expected a PEM PRIVATE KEY", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok || !matches(a.Public(), signer) {
			return nil, fmt.Errorf("%s does not match %s", path, publicName(a.Spec))
		}
		a.Signer = signer
	}
	return set, nil
}
