package pki

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// sshKeyTypes are the SSH key types the keysystem certifies: the floor
// acceptableKey applies to X.509 (Ed25519, ECDSA, RSA of 2048 bits or more,
// never DSA) in OpenSSH's terms, so every NIST curve OpenSSH offers and the
// security-key (sk-) forms count too. RSA keys must also be large enough.
var sshKeyTypes = map[string]bool{
	ssh.KeyAlgoRSA:        true,
	ssh.KeyAlgoED25519:    true,
	ssh.KeyAlgoSKED25519:  true,
	ssh.KeyAlgoECDSA256:   true,
	ssh.KeyAlgoECDSA384:   true,
	ssh.KeyAlgoECDSA521:   true,
	ssh.KeyAlgoSKECDSA256: true,
}

const sshKeyAdvice = "use ssh-ed25519, ecdsa-sha2-nistp256/384/521, their sk- security-key forms, or ssh-rsa of at least 2048 bits"

// acceptableSSHKey refuses key types and sizes the keysystem does not certify.
func acceptableSSHKey(pub ssh.PublicKey) error {
	t := pub.Type()
	if !sshKeyTypes[t] {
		return errSSHKeyType(t)
	}
	if t != ssh.KeyAlgoRSA {
		return nil
	}
	bits := 0 // an RSA key whose size cannot be read is refused
	if cp, ok := pub.(ssh.CryptoPublicKey); ok {
		if k, ok := cp.CryptoPublicKey().(*rsa.PublicKey); ok {
			bits = k.N.BitLen()
		}
	}
	if bits < 2048 {
		return fmt.Errorf("SSH key type %s of %d bits is too small (%s)", t, bits, sshKeyAdvice)
	}
	return nil
}

func errSSHKeyType(t string) error {
	return fmt.Errorf("SSH key type %q is not accepted (%s)", t, sshKeyAdvice)
}

// declaredSSHKeyType finds the key type an authorized_keys text names, for
// keys the SSH library cannot parse at all (ssh-dss, for one), so the refusal
// can say which type was sent. It looks for a type field followed by a blob
// that starts with the same short name, and returns "" if there is none.
func declaredSSHKeyType(text []byte) string {
	for _, line := range bytes.Split(text, []byte("\n")) {
		fields := bytes.Fields(line)
		for i := 1; i < len(fields); i++ {
			blob, err := base64.StdEncoding.DecodeString(string(fields[i]))
			if err != nil || len(blob) < 4 {
				continue
			}
			n := binary.BigEndian.Uint32(blob)
			if n <= 64 && int(n) <= len(blob)-4 && bytes.Equal(blob[4:4+n], fields[i-1]) {
				return string(fields[i-1])
			}
		}
	}
	return ""
}
