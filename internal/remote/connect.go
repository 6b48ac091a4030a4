package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// handshake connects to h and runs the SSH handshake with conf, within
// timeout, which stops while v (if any) asks the operator about a key.
// Errors are dialError's, or a *handshakeFailure.
func handshake(ctx context.Context, h Host, timeout time.Duration, v *verifier, conf *ssh.ClientConfig) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
	dialCtx, cancel := context.WithTimeout(ctx, timeout)
	conn, err := (&net.Dialer{}).DialContext(dialCtx, "tcp", h.addr())
	cancel()
	if err != nil {
		return nil, nil, nil, dialError(ctx, h, timeout, err)
	}
	// The SSH handshake takes no context: closing the connection is what
	// stops it, on cancellation or when the timeout runs out.
	var timedOut atomic.Bool
	timer := time.AfterFunc(timeout, func() { timedOut.Store(true); conn.Close() })
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	if v != nil {
		v.pause = func() func() {
			if !timer.Stop() {
				return func() {}
			}
			return func() { timer.Reset(timeout) }
		}
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, h.keyName(), conf)
	timer.Stop()
	stop()
	if err != nil {
		conn.Close()
		return nil, nil, nil, &handshakeFailure{err: err, timedOut: timedOut.Load()}
	}
	return sc, chans, reqs, nil
}

// handshakeFailure is a connection that did not become an SSH session.
type handshakeFailure struct {
	err      error
	timedOut bool
}

func (e *handshakeFailure) Error() string { return e.err.Error() }

// verifyError carries an error of the host key check that is not about
// the key (recording it, asking the operator) through the handshake, which
// only wraps it.
type verifyError struct{ err error }

func (e *verifyError) Error() string { return e.err.Error() }

// callback is the handshake's HostKeyCallback.
func (v *verifier) callback(name string, remote net.Addr, key ssh.PublicKey) error {
	err := v.check(name, remote, key)
	var hostKeyErr *HostKeyError
	if err == nil || errors.As(err, &hostKeyErr) {
		return err
	}
	return &verifyError{err}
}

// dialError says why there is no TCP connection.
func dialError(ctx context.Context, h Host, timeout time.Duration, err error) error {
	if ctx.Err() != nil {
		return &ConnError{Host: h, Kind: ctx.Err(), What: "connecting was stopped", Err: context.Cause(ctx)}
	}
	hint := "is the host up and the address in setup.yaml right?"
	var what string
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		what, hint = "refuses SSH connections", "is sshd running? is the address in setup.yaml right?"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		what = "cannot be reached"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		what = fmt.Sprintf("did not answer within %v", timeout)
		err = nil
	default:
		what = "cannot be connected to"
	}
	return &ConnError{Host: h, Kind: ErrUnreachable, What: what, Err: syscallCause(err), Hint: hint}
}

// handshakeError says why a TCP connection did not become a login.
func handshakeError(ctx context.Context, h Host, user string, signers []ssh.Signer, timeout time.Duration, timedOut bool, err error) error {
	var hostKeyErr *HostKeyError
	switch {
	case errors.As(err, &hostKeyErr):
		return hostKeyErr
	case ctx.Err() != nil:
		return &ConnError{Host: h, Kind: ctx.Err(), What: "connecting was stopped", Err: context.Cause(ctx)}
	case timedOut:
		return &ConnError{Host: h, Kind: ErrHandshake, What: fmt.Sprintf("did not complete the SSH handshake within %v", timeout),
			Hint: "is it sshd that listens there, and is the host overloaded?"}
	case strings.Contains(err.Error(), "unable to authenticate"):
		// x/crypto reports a refused login only in words.
		return &ConnError{Host: h, Kind: ErrAuthRefused, What: fmt.Sprintf("refused to log %s in", user),
			Err: fmt.Errorf("offered %s", describeSigners(signers)),
			Hint: "after spire setup supervisor-ssh only certificates from spire access ssh work; " +
				"run spire access ssh for a fresh one (they expire)"}
	}
	var own *verifyError
	if errors.As(err, &own) {
		return own.err
	}
	return &ConnError{Host: h, Kind: ErrHandshake, What: "SSH handshake failed", Err: err,
		Hint: "is it sshd that listens there?"}
}

// syscallCause shortens a dial error to its system call and errno,
// "connect: connection refused", as the host is already named.
func syscallCause(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
