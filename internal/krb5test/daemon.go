package krb5test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a daemon gets to exit on SIGTERM before SIGKILL.
const stopGrace = 5 * time.Second

// daemon is a running krb5kdc or kadmind.
type daemon struct {
	name    string
	logs    []string // its stdout/stderr file, then its [logging] file
	ready   string   // the [logging] line that says it serves
	done    chan struct{}
	waitErr error // set when done is closed
	proc    *os.Process
}

// spawn starts name with args, its output in Dir/name.out. logFile is where
// kdc.conf's [logging] sends its messages, and ready the line it logs once
// it has bound its ports.
func (k *KDC) spawn(name, logFile, ready string, args ...string) (*daemon, error) {
	out, err := os.Create(filepath.Join(k.Dir, name+".out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	// The [logging] file appends: empty it so that the tail shows this
	// run, not an earlier attempt's.
	if err := os.Truncate(logFile, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	cmd := k.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	// The daemon dies with the test binary even if no cleanup runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	d := &daemon{name: name, logs: []string{out.Name(), logFile}, ready: ready, done: make(chan struct{}), proc: cmd.Process}
	go func() {
		d.waitErr = cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// logged reports whether the daemon has logged its ready line.
func (d *daemon) logged() bool {
	data, err := os.ReadFile(d.logs[1])
	return err == nil && bytes.Contains(data, []byte("): "+d.ready+"\n"))
}

// stop sends SIGTERM, then SIGKILL if the daemon lingers, and waits.
func (d *daemon) stop() {
	if d.exited() {
		return
	}
	d.proc.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(stopGrace):
		d.proc.Kill()
		<-d.done
	}
}

// logTail is the end of each of the daemon's logs, for a failure message.
func (d *daemon) logTail() string {
	var b strings.Builder
	for _, path := range d.logs {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(&b, "--- %s: %v\n", path, err)
			continue
		}
		fmt.Fprintf(&b, "--- %s (last lines):\n%s\n", path, tail(data, 20))
	}
	return b.String()
}

// tail is the last n lines of data.
func tail(data []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
