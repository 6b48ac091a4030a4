package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/testutil"
)

// TestMain runs the child process of TestMainStopsOnSIGTERM and
// TestMainFails when asked to, the tests otherwise.
func TestMain(m *testing.M) {
	if mode := os.Getenv("DAEMON_HELPER"); mode != "" {
		os.Args = os.Args[:1]
		Main(helperCommand(mode))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestServeFinishesRequestsOnStop: a request in flight when the context
// ends still gets its answer, and Serve returns nil.
func TestServeFinishesRequestsOnStop(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release // answer only after the stop has begun
		io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ServeListener(ctx, l, h) }()
	var resp *http.Response
	got := make(chan struct{})
	go func() {
		defer close(got)
		resp, err = http.Get("http://" + addr + "/")
	}()
	<-started
	cancel()
	// Shutdown closes the listener first: once new connections are
	// refused, the stop is under way with the request still in flight.
	testutil.WaitFor(t, 5*time.Second, "the listener to close", func() (bool, error) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil, nil
	})
	close(release)
	<-got
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "done" {
		t.Errorf("in-flight request got %q", body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil after a graceful stop", err)
	}
}

func TestServeReportsListenErrors(t *testing.T) {
	if err := Serve(context.Background(), "256.0.0.1:0", http.NotFoundHandler()); err == nil {
		t.Error("Serve on a bad address succeeded")
	}
}

// helperCommand is what the child process of TestMain* runs: serve until
// stopped, or fail at once.
func helperCommand(mode string) *cobra.Command {
	return &cobra.Command{Use: "helper", SilenceUsage: true, SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch mode {
			case "fail":
				return errors.New("it broke")
			case "gogc":
				fmt.Printf("GOGC %d\n", debug.SetGCPercent(100))
				return nil
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			os.Stdout.WriteString("serving\n")
			return ServeListener(cmd.Context(), l, http.NotFoundHandler())
		}}
}

func helper(mode string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "DAEMON_HELPER="+mode)
	return cmd
}

func TestMainStopsOnSIGTERM(t *testing.T) {
	cmd := helper("serve")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "serving\n" {
		cmd.Process.Kill()
		t.Fatalf("child said %q, %v", line, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM the daemon ended with %v, want exit 0", err)
	}
}

func TestMainFails(t *testing.T) {
	out, err := helper("fail").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want 1", err)
	}
	if !strings.Contains(string(out), "helper: it broke\n") {
		t.Errorf("stderr %q, want NAME: error", out)
	}
}

// TestMainSetsGOGC: a daemon collects at GoGC unless its environment
// names a GOGC of its own.
func TestMainSetsGOGC(t *testing.T) {
	for env, want := range map[string]string{"": fmt.Sprintf("GOGC %d\n", GoGC), "GOGC=80": "GOGC 80\n"} {
		cmd := helper("gogc")
		cmd.Env = slices.DeleteFunc(cmd.Env, func(e string) bool { return strings.HasPrefix(e, "GOGC=") })
		if env != "" {
			cmd.Env = append(cmd.Env, env)
		}
		out, err := cmd.Output()
		if err != nil || string(out) != want {
			t.Errorf("with %q in the environment: %q, %v; want %q", env, out, err, want)
		}
	}
}

// TestEveryKeepsAGapAfterAnOverrun: runs start an interval apart, but a
// run longer than the interval is followed by the next only minGap after
// it ended; Every returns once the context ends.
func TestEveryKeepsAGapAfterAnOverrun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var starts, ends []time.Time
	done := make(chan struct{})
	go func() {
		Every(ctx, 30*time.Millisecond, 20*time.Millisecond, func(context.Context) {
			starts = append(starts, time.Now())
			if len(starts) == 2 {
				time.Sleep(50 * time.Millisecond) // overruns
			}
			ends = append(ends, time.Now())
			if len(starts) == 3 {
				cancel()
			}
		})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Every did not return after its context ended")
	}
	if len(starts) != 3 {
		t.Fatalf("%d runs, want 3", len(starts))
	}
	if d := starts[1].Sub(starts[0]); d < 30*time.Millisecond {
		t.Errorf("second run %v after the first, want at least the interval", d)
	}
	if d := starts[2].Sub(ends[1]); d < 20*time.Millisecond {
		t.Errorf("after an overrun the next run started %v after it ended, want at least the gap", d)
	}
}

// TestEveryUntilSettledRetriesSoonOnlyWhileUnsettled: an incomplete result
// in the window is retried after retry (here sooner than the overrun gap,
// an hour); a complete one, or any after the window, waits the interval.
func TestEveryUntilSettledRetriesSoonOnlyWhileUnsettled(t *testing.T) {
	const interval, minGap, retry, window = 2 * time.Hour, time.Hour, 10 * time.Millisecond, 2 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runs := make(chan struct{}, 10)
	n := 0
	go EveryUntilSettled(ctx, interval, minGap, retry, window, func(context.Context) bool {
		n++
		runs <- struct{}{}
		return n >= 3 // the third run finds everything
	})
	deadline := time.After(5 * time.Second)
	for i := range 3 {
		select {
		case <-runs:
		case <-deadline:
			t.Fatalf("run %d did not follow an unsettled one within 5 s (interval %v, retry %v)", i+1, interval, retry)
		}
	}
	select {
	case <-runs:
		t.Fatal("a run followed a settled one before the interval")
	case <-time.After(100 * time.Millisecond):
	}

	// Past the window an unsettled result waits the interval too.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	late := make(chan struct{}, 10)
	go EveryUntilSettled(ctx2, interval, minGap, retry, 0, func(context.Context) bool {
		late <- struct{}{}
		return false
	})
	<-late
	select {
	case <-late:
		t.Fatal("an unsettled run after the window was retried before the interval")
	case <-time.After(100 * time.Millisecond):
	}
}

// TestEveryOrWokenRunsSoonAfterAWakeUp: with an interval of an hour, a
// wake-up starts the next run, minGap after the last one ended at the
// soonest; without one nothing runs.
func TestEveryOrWokenRunsSoonAfterAWakeUp(t *testing.T) {
	const gap = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wake := make(chan struct{}, 1)
	wake <- struct{}{} // already waiting when the first run ends
	starts, ends := make(chan time.Time, 10), make(chan time.Time, 10)
	go EveryOrWoken(ctx, time.Hour, gap, wake, func(context.Context) {
		starts <- time.Now()
		ends <- time.Now()
	})
	<-starts
	first := <-ends
	select {
	case s := <-starts:
		if d := s.Sub(first); d < gap {
			t.Errorf("the woken run started %v after the last ended, want at least %v", d, gap)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no run within 5 s of a wake-up (interval 1h)")
	}
	select {
	case <-starts:
		t.Fatal("a third run without a wake-up, before the interval")
	case <-time.After(200 * time.Millisecond):
	}
}

// TestEveryReturnsMemoryBetweenRuns: what a run allocated is neither held
// as garbage nor kept as free heap while the daemon waits for its next run.
func TestEveryReturnsMemoryBetweenRuns(t *testing.T) {
	const garbage = 64 << 20
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan struct{})
	go Every(ctx, time.Minute, time.Second, func(context.Context) {
		chunks := make([][]byte, garbage>>20)
		for i := range chunks {
			chunks[i] = make([]byte, 1<<20)
			for j := 0; j < len(chunks[i]); j += 4096 {
				chunks[i][j] = 1 // resident, as a run's buffers are
			}
		}
		if len(chunks) == garbage>>20 {
			close(ran)
		}
	})
	<-ran
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
	testutil.WaitFor(t, 10*time.Second, "the run's memory to be returned before the next run", func() (bool, error) {
		metrics.Read(samples)
		objects, free := samples[0].Value.Uint64(), samples[1].Value.Uint64()
		if objects+free > garbage/2 {
			return false, fmt.Errorf("the heap holds %d MiB of objects and %d MiB free, after a run left %d MiB of garbage", objects>>20, free>>20, garbage>>20)
		}
		return true, nil
	})
}
