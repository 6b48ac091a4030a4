package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/crypto/ssh"
)

// stderrTail is how much of a command's standard error an ExitError
// keeps: the end, where the reason for failing usually is.
const stderrTail = 4096

// Run runs cmd with the user's shell on the host, feeding it stdin (nil:
// none; the reader must end), and returns its standard output. A command
// that fails is an *ExitError, with the output it gave so far. Secrets go
// in stdin, never in cmd: the host's process list shows command lines.
// Cancelling ctx returns at once, but the command runs on to its end.
func (c *Client) Run(ctx context.Context, cmd string, stdin io.Reader) ([]byte, error) {
	var stdout bytes.Buffer
	err := c.run(ctx, "", cmd, stdin, &stdout, nil)
	return stdout.Bytes(), err
}

// Stream runs cmd like Run, copying its output to stdout and stderr as it
// comes (nil: dropped), for long runs whose progress is worth showing and
// for output too large to keep.
func (c *Client) Stream(ctx context.Context, cmd string, stdout, stderr io.Writer) error {
	return c.run(ctx, "", cmd, nil, orDiscard(stdout), stderr)
}

// run runs cmd. Errors name it by label, what it does, when it is one of
// this package's scripts, and quote it otherwise.
func (c *Client) run(ctx context.Context, label, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	what := label
	if what == "" {
		what = abbreviate(cmd)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: not running %s: %w", c.host, what, err)
	}
	s, err := c.ssh.NewSession()
	if err != nil {
		return &ConnError{Host: c.host, Kind: ErrConnLost, What: "cannot start " + what, Err: err,
			Hint: "did the host go down or sshd restart? connect again"}
	}
	defer s.Close()
	tail := &tailBuffer{max: stderrTail}
	outGate, errGate := &gate{w: orDiscard(stdout)}, &gate{w: io.MultiWriter(orDiscard(stderr), tail)}
	s.Stdin, s.Stdout, s.Stderr = stdin, outGate, errGate
	if err := s.Start(cmd); err != nil {
		return &ConnError{Host: c.host, Kind: ErrConnLost, What: "cannot start " + what, Err: err}
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// Stop waiting and drop the session. The command itself runs on:
		// sshd passes no signals to root's sessions, and one without a
		// terminal outlives its session (which is kind to an apt-get
		// that would leave dpkg half done). Wait may never return if stdin
		// blocks, so it is not waited for; the gates keep what output
		// still comes from the writers the caller has moved on from.
		outGate.close()
		errGate.close()
		s.Close()
		return fmt.Errorf("%s: stopped waiting for %s, which may still run there: %w", c.host, what, context.Cause(ctx))
	}
	var exitErr *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exitErr):
		e := &ExitError{Host: c.host, Cmd: cmd, label: label, Code: exitErr.ExitStatus(), Signal: exitErr.Signal(), Stderr: tail.Bytes()}
		if e.Signal != "" {
			e.Code = -1
		}
		return e
	case errors.As(err, &missing):
		return &ConnError{Host: c.host, Kind: ErrConnLost, What: what + " ended without an exit status", Err: err,
			Hint: "the connection broke or the host went down while it ran; it may or may not have finished"}
	default:
		return &ConnError{Host: c.host, Kind: ErrConnLost, What: "running " + what, Err: err}
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// gate passes writes on until closed, then refuses them.
type gate struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

var errGateClosed = errors.New("no longer waiting for output")

func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, errGateClosed
	}
	return g.w.Write(p)
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte { return t.buf }
