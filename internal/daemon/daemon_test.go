package daemon

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestServeFinishesRequestsOnStop: a request in flight when the context
// ends still gets its answer, and Serve returns nil.
func TestServeFinishesRequestsOnStop(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, addr, h) }()
	var resp *http.Response
	var err error
	got := make(chan struct{})
	go func() {
		defer close(got)
		for range 50 {
			if resp, err = http.Get("http://" + addr + "/"); err == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	<-started
	cancel()
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
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("still listening after stop")
	}
}

func TestServeReportsListenErrors(t *testing.T) {
	if err := Serve(context.Background(), "256.0.0.1:0", http.NotFoundHandler()); err == nil {
		t.Error("Serve on a bad address succeeded")
	}
}

// helperCommand is what the child process of TestMain* runs: serve until
// stopped, or fail at once.
func helperCommand() *cobra.Command {
	return &cobra.Command{Use: "helper", SilenceUsage: true, SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Getenv("DAEMON_HELPER") == "fail" {
				return errors.New("it broke")
			}
			l, _ := net.Listen("tcp", "127.0.0.1:0")
			addr := l.Addr().String()
			l.Close()
			go func() {
				for range 100 {
					if c, err := net.Dial("tcp", addr); err == nil {
						c.Close()
						os.Stdout.WriteString("serving\n")
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
			return Serve(cmd.Context(), addr, http.NotFoundHandler())
		}}
}

func TestHelperProcess(t *testing.T) {
	if os.Getenv("DAEMON_HELPER") == "" {
		t.Skip("the child of TestMainStopsOnSIGTERM and TestMainFails")
	}
	os.Args = os.Args[:1]
	Main(helperCommand())
	os.Exit(0)
}

func helper(mode string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
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
