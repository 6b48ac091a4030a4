// Package token makes and keeps admission tokens: one-time secrets that let
// a new node prove, once, that an administrator admitted it. Tokens carry a
// two-character checksum so typing mistakes are caught before they reach the
// keyserver. The keyserver stores only their hashes, durably, so a restart
// neither forgets valid tokens nor revives used ones.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

const (
	secretBytes = 15 // 20 base64 characters
	bodyLen     = 20
	checkLen    = 2
	// Len is the length of a token as typed.
	Len = bodyLen + checkLen
)

// alphabet is every character a token may hold (standard base64).
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// ErrTypo means a token's checksum does not match: it was mistyped.
var ErrTypo = errors.New("the token's checksum does not match; it was probably mistyped")

// New returns a fresh random token.
func New() (string, error) {
	buf := make([]byte, secretBytes)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	body := base64.RawStdEncoding.EncodeToString(buf)
	return body + checksum(body), nil
}

func checksum(body string) string {
	sum := sha256.Sum256([]byte(body))
	return base64.RawStdEncoding.EncodeToString(sum[:])[:checkLen]
}

// Check verifies a token's shape and checksum, returning it without
// surrounding whitespace.
func Check(tok string) (string, error) {
	tok = strings.TrimSpace(tok)
	if len(tok) != Len {
		return "", fmt.Errorf("a token has %d characters, this one %d", Len, len(tok))
	}
	// Checked by hand: the base64 decoder skips line breaks, which would
	// let a mangled string through whenever its checksum happened to match.
	for _, r := range tok {
		if !strings.ContainsRune(alphabet, r) {
			return "", fmt.Errorf("the token has characters that cannot be in a token")
		}
	}
	if checksum(tok[:bodyLen]) != tok[bodyLen:] {
		return "", ErrTypo
	}
	return tok, nil
}

// hash is how a token is stored: its SHA-256, so the store's file grants
// nothing to whoever reads it.
func hash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}
