package authority

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/disaster"
)

// LoadPublic reads the public halves only; it needs no disaster key.
func (s *Store) LoadPublic() (*Set, error) {
	if !s.Exists() {
		return nil, fmt.Errorf("no authorities in %s (create them with `spire authority gen`)", s.workspace)
	}
	return s.loadPublicFrom(s.Dir())
}

func (s *Store) loadPublicFrom(dir string) (*Set, error) {
	set := &Set{}
	for _, spec := range Specs {
		path := filepath.Join(dir, publicName(spec))
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		a := &Authority{Spec: spec}
		if spec.Type == SSH {
			a.SSHKey, err = parseSSHPublic(data)
		} else {
			a.Cert, err = parseCert(data)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		set.List = append(set.List, a)
	}
	return set, nil
}

// Load reads the public halves and unseals the private keys with key,
// checking that every private key matches its public half.
func (s *Store) Load(key *disaster.Key) (*Set, error) {
	set, err := s.LoadPublic()
	if err != nil {
		return nil, err
	}
	sealedPath := filepath.Join(s.Dir(), SealedName)
	sealed, err := os.ReadFile(sealedPath)
	if err != nil {
		return nil, err
	}
	bundle, err := key.Open(sealed)
	if err != nil {
		if errors.Is(err, disaster.ErrWrongKey) {
			return nil, fmt.Errorf("%s: %w (is HOMEWORLD_DISASTER=%s the key of this cluster?)", sealedPath, err, key.Path())
		}
		return nil, fmt.Errorf("%s: %w", sealedPath, err)
	}
	defer clear(bundle)
	signers, err := parseBundle(bundle)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sealedPath, err)
	}
	for _, a := range set.List {
		signer, ok := signers[a.Name]
		if !ok {
			return nil, fmt.Errorf("%s: no private key for %s", sealedPath, a.Name)
		}
		if !matches(a.Public(), signer) {
			return nil, fmt.Errorf("%s: the private key of %s does not match %s", sealedPath, a.Name, publicName(a.Spec))
		}
		a.Signer = signer
	}
	return set, nil
}

func parseBundle(bundle []byte) (map[Name]crypto.Signer, error) {
	out := map[Name]crypto.Signer{}
	for rest := bundle; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				return nil, errors.New("trailing data after the last private key")
			}
			return out, nil
		}
		name := Name(block.Headers[nameHeader])
		if block.Type != "PRIVATE KEY" || name == "" {
			return nil, fmt.Errorf("unexpected %s block (authority %q)", block.Type, name)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("two private keys for %s", name)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("private key of %s: %w", name, err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("private key of %s cannot sign", name)
		}
		out[name] = signer
	}
}

// parseCert accepts exactly one CERTIFICATE block and nothing else.
func parseCert(data []byte) (*x509.Certificate, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("expected one PEM CERTIFICATE block")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("unexpected data after the certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// parseSSHPublic accepts exactly one authorized_keys line.
func parseSSHPublic(data []byte) (ssh.PublicKey, error) {
	key, _, _, rest, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("unexpected data after the public key")
	}
	return key, nil
}
