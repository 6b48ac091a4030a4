package virt

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"homeworld.dev/homeworld/internal/supervise"
)

// ServeBranch serves a published apt branch folder read-only at addr until
// ctx ends, logging each request: what systemd hosts fetch from this
// machine. The folder is looked up on every request, so a branch rebuilt
// in place (spire branch build swaps a link) is served at once.
func ServeBranch(ctx context.Context, dir, addr string, logger *log.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	files := http.FileServer(http.Dir(dir))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				http.Error(w, "read-only", http.StatusMethodNotAllowed)
				return
			}
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			files.ServeHTTP(rec, r)
			logger.Printf("%s %s %s %d", r.RemoteAddr, r.Method, r.URL.Path, rec.status)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	logger.Printf("serving %s at http://%s/", dir, addr)
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// startBranchServer runs `spire virt serve-branch` detached, so the branch
// stays served after spire exits, and waits until it answers.
func startBranchServer(t *Topology, st *State, o HostsOptions) error {
	if st.BranchServer != 0 && isBranchServer(st.BranchServer) {
		return nil
	}
	dir, err := filepath.Abs(o.Branch)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(t.Gateway.Addr().String(), strconv.Itoa(BranchPort))
	logf, err := os.OpenFile(filepath.Join(t.Dir, "branch-server.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(o.Spire, "virt", "serve-branch", "--dir", dir, "--listen", addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the branch server: %w", err)
	}
	st.BranchServer = cmd.Process.Pid
	go cmd.Wait()
	if err := st.save(); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	client := http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get("http://" + addr + "/dists/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) || !supervise.Alive(cmd.Process.Pid) {
			return fmt.Errorf("the branch server did not answer at %s: %v (log: %s)", addr, err, logf.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stopBranchServer ends the branch server of st, if it runs.
func stopBranchServer(st *State) {
	if st.BranchServer != 0 && isBranchServer(st.BranchServer) {
		supervise.Stop(supervise.Process{PID: st.BranchServer}, 5*time.Second)
	}
}

// isBranchServer guards against signalling a recycled PID.
func isBranchServer(pid int) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(string(cmdline), "serve-branch") && supervise.Alive(pid)
}
