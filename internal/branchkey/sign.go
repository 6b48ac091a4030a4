package branchkey

import (
	"bytes"
	"crypto"
	"errors"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// signConfig makes signatures that depend only on the message and at, so a
// branch rebuilt from the same inputs is byte-for-byte the same. go-crypto
// otherwise adds a random salt notation to guard EdDSA against fault
// attacks; the key signs on the administrator's machine, not on a device an
// attacker can glitch.
func (k *Key) signConfig(at time.Time) *packet.Config {
	// A signature older than its key is rejected by gpgv, and
	// SOURCE_DATE_EPOCH may well predate the key.
	if at.Before(k.Created()) {
		at = k.Created()
	}
	at = at.Truncate(time.Second)
	deterministic := false
	return &packet.Config{
		DefaultHash:                           crypto.SHA512,
		Time:                                  func() time.Time { return at },
		NonDeterministicSignaturesViaNotation: &deterministic,
	}
}

// ClearSign returns msg wrapped in an OpenPGP cleartext signature, the form
// of a repository's InRelease file. The line break ending msg is the one
// before the signature block, which the cleartext form leaves unsigned
// (RFC 4880 7.1); signing it too would add an empty line, where gpg
// --clearsign writes none.
func (k *Key) ClearSign(msg []byte, at time.Time) ([]byte, error) {
	if !k.HasPrivate() {
		return nil, errNoPrivate
	}
	msg = bytes.TrimSuffix(msg, []byte("\n"))
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, k.entity.PrivateKey, k.signConfig(at))
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(msg); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return append(b.Bytes(), '\n'), nil
}

// DetachSign returns an armored detached signature of msg, the form of a
// repository's Release.gpg file.
func (k *Key) DetachSign(msg []byte, at time.Time) ([]byte, error) {
	if !k.HasPrivate() {
		return nil, errNoPrivate
	}
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, k.entity, bytes.NewReader(msg), k.signConfig(at)); err != nil {
		return nil, err
	}
	return append(b.Bytes(), '\n'), nil
}

var errNoPrivate = errors.New("the branch-signing key's private half is not loaded (it needs the disaster key)")
