package remote

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"
)

// DefaultTimeout bounds connecting when Config.Timeout is zero: long
// enough for a busy host across a slow link, short enough that a host
// that is down does not look like a hang.
const DefaultTimeout = 15 * time.Second

// Config is how to reach and trust hosts.
type Config struct {
	User     string       // default root
	Signers  []ssh.Signer // keys to offer, in order; see LoadSigners and AgentSigners
	HostKeys HostKeys
	// Timeout bounds the TCP connect, and again the handshake and login;
	// default DefaultTimeout. Commands have no timeout: give them a ctx.
	Timeout time.Duration
}

// Client is a connection to one host.
type Client struct {
	host Host
	ssh  *ssh.Client
}

// Host is the host c is connected to.
func (c *Client) Host() Host { return c.host }

// Close ends the connection.
func (c *Client) Close() error { return c.ssh.Close() }

// Dial connects to h and logs in, after checking its host key as
// cfg.HostKeys says. Its errors are *ConnError and *HostKeyError.
func Dial(ctx context.Context, h Host, cfg Config) (*Client, error) {
	if len(cfg.Signers) == 0 {
		return nil, fmt.Errorf("%s: no SSH key to log in with; run spire access ssh", h)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	user := cfg.User
	if user == "" {
		user = "root"
	}
	v, err := newVerifier(h, cfg.HostKeys)
	if err != nil {
		return nil, err
	}
	algorithms, err := v.algorithms()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", h, err)
	}

	sc, chans, reqs, err := handshake(ctx, h, timeout, v, &ssh.ClientConfig{
		User:              user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(cfg.Signers...)},
		HostKeyCallback:   v.callback,
		HostKeyAlgorithms: algorithms,
	})
	if err != nil {
		var handshakeErr *handshakeFailure
		if errors.As(err, &handshakeErr) {
			return nil, handshakeError(ctx, h, user, cfg.Signers, timeout, handshakeErr.timedOut, handshakeErr.err)
		}
		return nil, err
	}
	return &Client{host: h, ssh: ssh.NewClient(sc, chans, reqs)}, nil
}
