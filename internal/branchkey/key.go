// Package branchkey is the branch-signing authority: an Ed25519 OpenPGP v4
// key that signs the Release files of Homeworld's apt branches, which apt
// checks through signed-by. It lives in the workspace beside the other
// authorities, its private key sealed with the disaster key, but in its own
// package: the keyserver links internal/authority and must never hold this
// key, and nodes need only its public half, shipped in a package. Only spire
// imports it.
package branchkey

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/keyapi"
)

// Name is the authority's name, as `spire authority` lists it.
const Name = keyapi.BranchSigning

// Spec describes the authority in listings.
var Spec = authority.Spec{
	Name:    Name,
	Type:    authority.OpenPGP,
	Purpose: "signs the apt branches' Release files; nodes trust it through signed-by",
}

// Key is the branch-signing key: its public half always, its private half
// once unsealed.
type Key struct {
	entity *openpgp.Entity
}

// Generate makes a new key. org names the cluster in the user ID, so keys of
// different clusters are told apart in keyrings.
//
// The key is EdDSA on Ed25519 in the version 4 format: gpgv 2.2, which
// Debian 12's apt runs, reads neither version 6 keys nor the newer Ed25519
// algorithm number. It has no encryption subkey; it only signs.
func Generate(org string, now time.Time) (*Key, error) {
	// Backdated like the other authorities, so a signature made on a machine
	// whose clock is a little behind still postdates the key.
	created := now.Add(-time.Hour).Truncate(time.Second)
	cfg := &packet.Config{
		Algorithm:   packet.PubKeyAlgoEdDSA,
		Curve:       packet.Curve25519,
		DefaultHash: crypto.SHA512,
		Time:        func() time.Time { return created },
	}
	e, err := openpgp.NewEntity("Homeworld branch signing", org, "", cfg)
	if err != nil {
		return nil, fmt.Errorf("generating the branch-signing key: %w", err)
	}
	e.Subkeys = nil
	k := &Key{entity: e}
	if err := k.check(); err != nil {
		return nil, err
	}
	return k, nil
}

// check holds a key to what apt's gpgv can use.
func (k *Key) check() error {
	p := k.entity.PrimaryKey
	if p.Version != 4 {
		return fmt.Errorf("branch-signing key is OpenPGP version %d; apt's gpgv reads version 4 only", p.Version)
	}
	if p.PubKeyAlgo != packet.PubKeyAlgoEdDSA {
		return fmt.Errorf("branch-signing key has algorithm %d; want EdDSA (22) on Ed25519", p.PubKeyAlgo)
	}
	if len(k.entity.Subkeys) != 0 {
		return errors.New("branch-signing key has subkeys; it must sign with its primary key only")
	}
	return nil
}

// Fingerprint is the key's version 4 fingerprint in upper-case hex, as gpgv
// prints it ("using EDDSA key ...").
func (k *Key) Fingerprint() string {
	return strings.ToUpper(hex.EncodeToString(k.entity.PrimaryKey.Fingerprint))
}

// Created is the key's creation time; no signature may predate it.
func (k *Key) Created() time.Time { return k.entity.PrimaryKey.CreationTime }

// HasPrivate reports whether the private half is loaded.
func (k *Key) HasPrivate() bool { return k.entity.PrivateKey != nil }

// Keyring is the public key as a binary OpenPGP keyring, the form apt wants
// in /usr/share/keyrings/*.gpg for signed-by.
func (k *Key) Keyring() []byte {
	var b bytes.Buffer
	// Serialize only writes to a bytes.Buffer and fails on nothing here.
	if err := k.entity.Serialize(&b); err != nil {
		panic(fmt.Sprintf("serializing a public key: %v", err))
	}
	return b.Bytes()
}

// Armored is the public key in ASCII armor (an .asc keyring), for reading,
// pasting, or signed-by pointing at a .asc file.
func (k *Key) Armored() []byte {
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err == nil {
		_, err = w.Write(k.Keyring())
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		panic(fmt.Sprintf("armoring a public key: %v", err))
	}
	return append(b.Bytes(), '\n')
}

// Summarize describes the key as `spire authority show` lists authorities.
// OpenPGP keys carry a creation time but no validity period, so like SSH
// keys they show none.
func (k *Key) Summarize() authority.Summary {
	return authority.Summary{
		Name:        Spec.Name,
		Type:        Spec.Type,
		Algorithm:   "Ed25519 (OpenPGP v4)",
		Fingerprint: k.Fingerprint(),
		Purpose:     Spec.Purpose,
	}
}

// privateBytes is the key with its private half, unencrypted: it is only
// ever written sealed with the disaster key.
func (k *Key) privateBytes() ([]byte, error) {
	var b bytes.Buffer
	// Without re-signing: the self-signature made at generation stays as is.
	if err := k.entity.SerializePrivateWithoutSigning(&b, nil); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// parse reads exactly one key, public or private, in binary form.
func parse(data []byte) (*Key, error) {
	list, err := openpgp.ReadKeyRing(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if len(list) != 1 {
		return nil, fmt.Errorf("want exactly one key, found %d", len(list))
	}
	k := &Key{entity: list[0]}
	if err := k.check(); err != nil {
		return nil, err
	}
	if k.HasPrivate() && k.entity.PrivateKey.Encrypted {
		return nil, errors.New("the private key is passphrase-protected; it should be sealed with the disaster key only")
	}
	return k, nil
}
