package remote

import (
	"errors"
	"fmt"
	"strings"
)

// Kinds of failure, matched with errors.Is on the errors this package
// returns, so callers can tell a host that is down from one that must not
// be trusted from a command that failed (*ExitError).
var (
	// ErrUnreachable: no TCP connection to sshd (refused, no route, timeout).
	ErrUnreachable = errors.New("unreachable")
	// ErrHandshake: connected, but no SSH session came of it.
	ErrHandshake = errors.New("SSH handshake failed")
	// ErrAuthRefused: sshd accepted none of the keys offered.
	ErrAuthRefused = errors.New("refused our SSH keys")
	// ErrConnLost: the connection broke while in use.
	ErrConnLost = errors.New("connection lost")

	// ErrHostKeyUnknown: nothing vouches for the key the host offered.
	ErrHostKeyUnknown = errors.New("host key unknown")
	// ErrHostKeyChanged: known_hosts lists other keys for the host.
	ErrHostKeyChanged = errors.New("host key CHANGED")
	// ErrHostKeyRevoked: known_hosts marks the key @revoked.
	ErrHostKeyRevoked = errors.New("host key REVOKED")
	// ErrHostCertRefused: the host offered a certificate from an authority
	// known_hosts trusts for it, but the certificate is not valid for it
	// (another host's name, expired, not yet valid, bad signature).
	ErrHostCertRefused = errors.New("host certificate refused")
)

// ConnError is a failure to get or keep an SSH connection to a host.
type ConnError struct {
	Host Host
	Kind error  // ErrUnreachable, ErrHandshake, ErrAuthRefused or ErrConnLost
	What string // the failure in words, e.g. "refuses SSH connections"
	Err  error  // the cause, if any
	Hint string // what to do about it, if anything is known
}

func (e *ConnError) Error() string {
	return message(e.Host, e.What, causeText(e.Err), e.Hint)
}

func (e *ConnError) Unwrap() []error { return nonNil(e.Kind, e.Err) }

// HostKeyError is a host spire refuses to trust. Nothing was changed.
type HostKeyError struct {
	Host    Host
	Kind    error    // ErrHostKeyUnknown, ErrHostKeyChanged, ErrHostKeyRevoked or ErrHostCertRefused
	Offered string   // fingerprint of the key offered (for a certificate, of the key it certifies)
	Known   []string // fingerprints known_hosts lists for the host (ErrHostKeyChanged)
	Detail  string   // what exactly is wrong
	Hint    string   // what to do about it
}

func (e *HostKeyError) Error() string {
	return message(e.Host, e.Kind.Error(), e.Detail, e.Hint)
}

func (e *HostKeyError) Unwrap() error { return e.Kind }

// ExitError is a command that ran on the host and failed.
type ExitError struct {
	Host   Host
	Cmd    string // the command
	Code   int    // exit status; -1 when killed by a signal
	Signal string // the signal that killed it, e.g. "KILL"
	Stderr []byte // the end of its standard error
	label  string // what Cmd does, for this package's own scripts
}

func (e *ExitError) Error() string {
	how := fmt.Sprintf("exited with status %d", e.Code)
	if e.Signal != "" {
		how = "was killed by signal " + e.Signal
	}
	stderr := strings.TrimSpace(string(e.Stderr))
	if stderr == "" {
		stderr = "(no error output)"
	}
	if e.label != "" {
		return message(e.Host, e.label+" failed: the script "+how, stderr, "")
	}
	return message(e.Host, abbreviate(e.Cmd)+" "+how, stderr, "")
}

// message is the one shape of every error: "host (addr): what: cause; hint".
func message(h Host, what, cause, hint string) string {
	msg := h.String() + ": " + what
	if cause != "" {
		msg += ": " + cause
	}
	if hint != "" {
		msg += "; " + hint
	}
	return msg
}

func causeText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func nonNil(errs ...error) []error {
	var out []error
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// maxCmdInMessage keeps a long script from burying the error it caused.
const maxCmdInMessage = 200

// abbreviate quotes cmd for a message, shortened to its start if long.
func abbreviate(cmd string) string {
	if len(cmd) > maxCmdInMessage {
		cmd = cmd[:maxCmdInMessage] + "…"
	}
	return fmt.Sprintf("%q", cmd)
}
