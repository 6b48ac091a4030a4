package keysystemtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/keyserver"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/procstat"
)

// Process says whether and how to run the keyserver in a child process:
// the test binary itself, started again with an environment variable that
// makes ServeIfChild (which the package's TestMain calls first) serve the
// supervisor's files on a listener the parent bound and passed down.
type Process struct {
	Enable bool
	// CPUProfile, if set, is where the child writes its CPU profile,
	// covering its whole life, when it stops.
	CPUProfile string
}

// childEnv carries a childSpec as JSON into the child.
const childEnv = "HOMEWORLD_KEYSYSTEMTEST_CHILD"

// The child's file descriptors beyond stdio (exec.Cmd.ExtraFiles).
const (
	childListenerFD = 3 // the listening socket
	childReadyFD    = 4 // closed by the child once it serves
)

// childStopGrace is how long the child gets to shut down on SIGTERM.
const childStopGrace = 10 * time.Second

type childSpec struct {
	Root       string
	Lifetimes  policy.Lifetimes
	CPUProfile string
	Admission  keyserver.Admission
}

// ServeIfChild returns at once unless this process is a keyserver child a
// Cluster started (Options.Process); then it serves until SIGTERM and
// exits. A test package whose tests use Options.Process calls it first
// thing in TestMain, before flags are parsed.
func ServeIfChild() {
	spec, ok := os.LookupEnv(childEnv)
	if !ok {
		return
	}
	if err := serveChild(spec); err != nil {
		fmt.Fprintf(os.Stderr, "keyserver child: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func serveChild(specJSON string) error {
	var spec childSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return fmt.Errorf("%s: %w", childEnv, err)
	}
	lf := os.NewFile(childListenerFD, "listener")
	ln, err := net.FileListener(lf)
	lf.Close()
	if err != nil {
		return fmt.Errorf("inherited listener: %w", err)
	}
	ready := os.NewFile(childReadyFD, "ready")
	logger := log.New(os.Stderr, "", 0)
	srv, _, err := keyserver.Load(layout.Node{Root: spec.Root}, spec.Lifetimes, keyserver.Options{Logf: logger.Printf, Admission: spec.Admission})
	if err != nil {
		return err
	}
	if spec.CPUProfile != "" {
		f, err := os.Create(spec.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ready.Close()
	return srv.Serve(ctx, ln)
}

// child is a keyserver running in a child process.
type child struct {
	proc    *os.Process
	done    chan struct{}
	waitErr error // set when done is closed
}

// spawn starts the keyserver in a child process serving l, and returns once
// it serves.
func (c *Cluster) spawn(l net.Listener) {
	c.t.Helper()
	lf, err := l.(*net.TCPListener).File()
	l.Close() // the child's copy (and lf) keep the socket bound
	if err != nil {
		c.t.Fatal(err)
	}
	defer lf.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		c.t.Fatal(err)
	}
	defer readyR.Close()
	spec, err := json.Marshal(childSpec{Root: c.Supervisor.Root, Lifetimes: c.Lifetimes, CPUProfile: c.process.CPUProfile, Admission: c.admission})
	if err != nil {
		c.t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.ExtraFiles = []*os.File{lf, readyW} // childListenerFD, childReadyFD
	cmd.Stdout = tlogWriter{c.t}
	cmd.Stderr = tlogWriter{c.t}
	// The child dies with the test binary even if no cleanup runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		c.t.Fatalf("starting the keyserver child: %v", err)
	}
	ch := &child{proc: cmd.Process, done: make(chan struct{})}
	go func() {
		ch.waitErr = cmd.Wait()
		close(ch.done)
	}()
	c.child = ch
	// The child closes its end once it serves, or exits: either way the
	// read ends. Whether it serves is then whether it is still running.
	io.Copy(io.Discard, readyR)
	select {
	case <-ch.done:
		c.child = nil
		c.t.Fatalf("the keyserver child exited before serving: %v", ch.waitErr)
	default:
	}
}

// stopChild stops the keyserver's process: SIGTERM, then SIGKILL if it
// lingers.
func (c *Cluster) stopChild() {
	ch := c.child
	c.child = nil
	ch.proc.Signal(syscall.SIGTERM)
	select {
	case <-ch.done:
	case <-time.After(childStopGrace):
		ch.proc.Kill()
		<-ch.done
		c.t.Errorf("the keyserver child did not stop within %v of SIGTERM", childStopGrace)
		return
	}
	if ch.waitErr != nil {
		c.t.Errorf("keyserver child: %v", ch.waitErr)
	}
}

// KillServer kills the keyserver's child process with SIGKILL, as a crash
// or the OOM killer would, and waits until it has exited: nothing of the
// keyserver's runs after it returns, and whatever it had not written and
// synced is lost. StartServer then starts a new child on the same address.
// It needs Options.Process.
func (c *Cluster) KillServer() {
	c.t.Helper()
	ch := c.child
	if ch == nil {
		c.t.Fatal("keysystemtest: KillServer needs a running keyserver in a child process (Options.Process)")
	}
	c.child = nil
	if err := ch.proc.Kill(); err != nil {
		c.t.Fatalf("killing the keyserver child: %v", err)
	}
	<-ch.done
	var exit *exec.ExitError
	if !errors.As(ch.waitErr, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		c.t.Errorf("the killed keyserver child ended with %v; want killed by SIGKILL", ch.waitErr)
	}
}

// userHZ is the unit of /proc/PID/stat's CPU times: USER_HZ, 100 on every
// architecture Linux runs Go on.
const userHZ = 100

// ServerCPU is the CPU time, user and system, the keyserver's child process
// has used so far, read from /proc/PID/stat: its resolution is 10 ms, so a
// difference is precise only over a long enough run. It needs
// Options.Process.
func (c *Cluster) ServerCPU() time.Duration {
	c.t.Helper()
	if c.child == nil {
		c.t.Fatal("keysystemtest: ServerCPU needs a keyserver in a child process (Options.Process)")
	}
	d, err := procCPU(c.child.proc.Pid)
	if err != nil {
		c.t.Fatal(err)
	}
	return d
}

// procCPU reads utime+stime of process pid.
func procCPU(pid int) (time.Duration, error) {
	fields, err := procstat.Fields(pid)
	if err != nil {
		return 0, err
	}
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the command name", pid, len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] { // fields 14 and 15 overall
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// tlogWriter passes a child's output to the test's log.
type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Logf("keyserver child: %s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}
