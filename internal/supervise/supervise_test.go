package supervise

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/testutil"
)

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func fileExists(path string) func(context.Context) error {
	return func(context.Context) error {
		_, err := os.Stat(path)
		return err
	}
}

func start(t *testing.T, specs []Spec, opts Options) (*Supervisor, context.CancelFunc, chan struct{}) {
	t.Helper()
	opts.Logf = t.Logf
	s, err := New(specs, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}) // closed when Run returns
	go func() {
		s.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s, cancel, done
}

func waitState(t *testing.T, s *Supervisor, name, state string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitState(ctx, name, state); err != nil {
		t.Fatalf("%v (status %+v)", err, s.Status())
	}
}

func statusOf(s *Supervisor, name string) Status {
	for _, st := range s.Status() {
		if st.Name == name {
			return st
		}
	}
	return Status{}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestDependencyOrder: b exits at once unless a is ready, so b never failing
// shows it was started only after a's readiness check passed.
func TestDependencyOrder(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "a.ready")
	s, _, _ := start(t, []Spec{
		{Name: "a", Argv: sh("sleep 0.3; touch " + ready + "; exec sleep 1000"), Ready: fileExists(ready), RestartSec: time.Second},
		{Name: "b", Argv: sh("test -f " + ready + " || exit 3; exec sleep 1000"), Deps: []string{"a"}, RestartSec: time.Second},
	}, Options{})
	waitState(t, s, "b", Active)
	if st := statusOf(s, "b"); st.Restarts != 0 {
		t.Errorf("b restarted %d times: started before a was ready", st.Restarts)
	}
	// The timeline the status tells: a started, a ready at least 0.3 s
	// later, then b started and ready.
	var times []time.Time
	for _, st := range []Status{statusOf(s, "a"), statusOf(s, "b")} {
		for _, v := range []string{st.Started, st.Ready} {
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				t.Fatalf("status %+v: %v", st, err)
			}
			times = append(times, at)
		}
	}
	if !slices.IsSortedFunc(times, func(x, y time.Time) int { return x.Compare(y) }) || times[1].Sub(times[0]) < 300*time.Millisecond {
		t.Errorf("started/ready of a, then b: %v", times)
	}
}

func TestRestartAfterKillShowsInMetrics(t *testing.T) {
	s, _, _ := start(t, []Spec{{Name: "svc", Argv: sh("exec sleep 1000"), RestartSec: 50 * time.Millisecond}}, Options{})
	waitState(t, s, "svc", Active)
	first := statusOf(s, "svc").PID
	syscall.Kill(first, syscall.SIGKILL)
	testutil.WaitFor(t, 10*time.Second, "svc active again under a new PID", func() (bool, error) {
		st := statusOf(s, "svc")
		return st.State == Active && st.PID != 0 && st.PID != first, fmt.Errorf("status %+v", st)
	})
	if st := statusOf(s, "svc"); st.Restarts != 1 {
		t.Errorf("restarts = %d, want 1", st.Restarts)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`node_systemd_unit_state{name="svc.service",state="active",type="simple"} 1`,
		`node_systemd_unit_state{name="svc.service",state="failed",type="simple"} 0`,
		`node_systemd_service_restart_total{name="svc.service"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestStopIsOrderedAndForceful(t *testing.T) {
	dir := t.TempDir()
	order := filepath.Join(dir, "order")
	s, cancel, done := start(t, []Spec{
		{Name: "base", Argv: sh("trap 'echo base >> " + order + "; exit 0' TERM; touch " + dir + "/base; while :; do sleep 0.05; done"),
			Ready: fileExists(dir + "/base")},
		{Name: "stubborn", Argv: sh("trap 'echo stubborn >> " + order + "' TERM; touch " + dir + "/stubborn; while :; do sleep 0.05; done"),
			Ready: fileExists(dir + "/stubborn"), Deps: []string{"base"}},
	}, Options{StopTimeout: 300 * time.Millisecond})
	waitState(t, s, "stubborn", Active)
	pids := []int{statusOf(s, "base").PID, statusOf(s, "stubborn").PID}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after stop")
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d still alive after stop", pid)
		}
	}
	data, _ := os.ReadFile(order)
	if string(data) != "stubborn\nbase\n" {
		t.Errorf("stop order %q, want dependents first", data)
	}
	for _, st := range s.Status() {
		if st.State != Inactive {
			t.Errorf("%s is %s after stop", st.Name, st.State)
		}
	}
}

// TestFailingServiceBacksOff checks the delays the supervisor chooses (from
// its log, not from timing): they start at RestartSec, never shrink while
// the service keeps failing at once, and grow to MaxRestartDelay.
func TestFailingServiceBacksOff(t *testing.T) {
	var mu sync.Mutex
	var delays []time.Duration
	logf := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		if _, d, ok := strings.Cut(line, "restarting in "); ok {
			if v, err := time.ParseDuration(d); err == nil {
				mu.Lock()
				delays = append(delays, v)
				mu.Unlock()
			}
		}
	}
	const first, most = 20 * time.Millisecond, 200 * time.Millisecond
	s, err := New([]Spec{{Name: "bad", Argv: sh("exit 1"), RestartSec: first}}, Options{MaxRestartDelay: most, Logf: logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	testutil.WaitFor(t, 20*time.Second, "6 restarts of a service that keeps failing", func() (bool, error) {
		st := statusOf(s, "bad")
		return st.Restarts >= 6, fmt.Errorf("status %+v", st)
	})
	mu.Lock()
	got := slices.Clone(delays)
	mu.Unlock()
	if len(got) < 5 || got[0] != first || got[len(got)-1] != most {
		t.Fatalf("restart delays %v: want from %v growing to %v", got, first, most)
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("restart delays %v shrink", got)
		}
	}
	if got[2] <= got[0] {
		t.Fatalf("restart delays %v do not grow", got)
	}
}

func TestBadSpecs(t *testing.T) {
	if _, err := New([]Spec{{Name: "b", Argv: sh("true"), Deps: []string{"a"}}}, Options{}); err == nil || !strings.Contains(err.Error(), "not listed before") {
		t.Errorf("New = %v", err)
	}
	if _, err := New([]Spec{{Name: "x"}}, Options{}); err == nil {
		t.Error("accepted a service without a command")
	}
}

func TestStopHoldsUntilStart(t *testing.T) {
	s, _, _ := start(t, []Spec{{Name: "svc", Argv: sh("exec sleep 1000"), RestartSec: 20 * time.Millisecond}}, Options{})
	waitState(t, s, "svc", Active)
	pid := statusOf(s, "svc").PID
	if err := s.Stop("svc"); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, "svc", Inactive)
	testutil.WaitFor(t, 5*time.Second, fmt.Sprintf("the stopped service's process %d to exit", pid), func() (bool, error) {
		return !alive(pid), fmt.Errorf("status %+v", statusOf(s, "svc"))
	})
	if err := s.Start("svc"); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, "svc", Active)
	if s.Stop("nope") == nil {
		t.Error("Stop of an unknown service succeeded")
	}
}

// TestStopKillsStubbornService: a service stopped by request that ignores
// SIGTERM is killed after the stop timeout, as at the supervisor's end.
func TestStopKillsStubbornService(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := start(t, []Spec{{Name: "stubborn", Argv: sh(`trap "" TERM; touch ` + dir + `/up; exec sleep 1000`),
		Ready: fileExists(dir + "/up")}}, Options{StopTimeout: 200 * time.Millisecond})
	waitState(t, s, "stubborn", Active)
	pid := statusOf(s, "stubborn").PID
	if err := s.Stop("stubborn"); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, "stubborn", Inactive)
	if Alive(pid) {
		t.Errorf("stubborn service %d still runs after Stop", pid)
	}
}

func TestStopWhileBackingOff(t *testing.T) {
	s, _, _ := start(t, []Spec{{Name: "bad", Argv: sh("exit 1"), RestartSec: 300 * time.Millisecond}}, Options{})
	waitState(t, s, "bad", Failed)
	if err := s.Stop("bad"); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, "bad", Inactive)
	before := statusOf(s, "bad").Restarts
	// Well past the backoff: a held service must not have been started.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if st := statusOf(s, "bad"); st.State != Inactive || st.Restarts != before {
			t.Fatalf("held service ran again: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
