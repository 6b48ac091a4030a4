package remote

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// scanFamilies are the kinds of host key asked for, one handshake each,
// since a handshake shows only the key of the algorithm it agrees on.
var scanFamilies = [][]string{
	{ssh.KeyAlgoED25519},
	{ssh.KeyAlgoECDSA256},
	{ssh.KeyAlgoECDSA384},
	{ssh.KeyAlgoECDSA521},
	{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256},
}

// errScanned ends a handshake once the host has shown its key.
var errScanned = errors.New("host key scanned")

// ScanHostKeys lists the plain host keys h offers, as ssh-keyscan does,
// without logging in. Nothing vouches for them: compare their fingerprints
// with what the host's console shows before trusting them.
func ScanHostKeys(ctx context.Context, h Host, timeout time.Duration) ([]ssh.PublicKey, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var keys []ssh.PublicKey
	for _, algorithms := range scanFamilies {
		var key ssh.PublicKey
		_, _, _, err := handshake(ctx, h, timeout, nil, &ssh.ClientConfig{
			User:              "root",
			HostKeyAlgorithms: algorithms,
			HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
				key = k
				return errScanned
			},
		})
		var failure *handshakeFailure
		switch {
		case key != nil:
			keys = append(keys, key)
		case errors.As(err, &failure) && strings.Contains(failure.err.Error(), "no common algorithm"):
			// The host has no key of this kind.
		case errors.As(err, &failure):
			return nil, handshakeError(ctx, h, "root", nil, timeout, failure.timedOut, failure.err)
		default:
			return nil, err
		}
	}
	if len(keys) == 0 {
		return nil, &ConnError{Host: h, Kind: ErrHandshake, What: "offers no host key of a kind spire knows",
			Hint: "give it an Ed25519 host key (ssh-keygen -A makes one)"}
	}
	return keys, nil
}
