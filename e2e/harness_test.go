//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/testutil"
)

// bin holds the binaries built once for the whole package.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "homeworld-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	os.Chmod(dir, 0o755) // other users run spire too (the not-root check)
	// Every kubectl the tests start keeps its discovery cache here, not in
	// the machine's ~/.kube, and it goes with the binaries.
	os.Setenv("KUBECACHEDIR", filepath.Join(dir, "kubectl-cache"))
	// Everything a cluster runs: our binaries, the pinned upstream builds
	// (from their cache after the first time) and our images.
	build := exec.Command("../scripts/build", dir)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building binaries: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// env is the environment for spire: a workspace and a disaster key. Its
// helpers take the calling test's t: a subtest that fails through them
// must stop itself, never its parent.
type env struct {
	dir, key string
	vars     []string // more of spire's environment, NAME=value (Kerberos)
}

func newEnv(t *testing.T) *env {
	base := t.TempDir()
	return &env{dir: filepath.Join(base, "cluster"), key: filepath.Join(base, "disaster.key")}
}

// spire runs the spire binary and returns its standard output, failing the
// test on a non-zero exit.
func (e *env) spire(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := e.trySpire(args...)
	if err != nil {
		t.Fatalf("spire %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// trySpire runs spire and returns its output and error.
func (e *env) trySpire(args ...string) (string, string, error) {
	cmd := exec.Command(filepath.Join(bin, "spire"), args...)
	cmd.Env = append(append(os.Environ(), "HOMEWORLD_DIR="+e.dir, "HOMEWORLD_DISASTER="+e.key), e.vars...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// output collects a process's output while the test reads it.
type output = testutil.Buffer

// daemon starts a long-running binary, stopping it when the test ends; its
// output is shown if the test fails.
func daemon(t *testing.T, name string, args ...string) (*exec.Cmd, *output) {
	t.Helper()
	cmd := exec.Command(name, args...)
	out := &output{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), out.String())
		}
	})
	return cmd, out
}

// waitFor waits up to d for cond to return nil; its error says why not yet.
func waitFor(t *testing.T, what string, d time.Duration, cond func() error) {
	t.Helper()
	testutil.WaitFor(t, d, what, func() (bool, error) {
		err := cond()
		return err == nil, err
	})
}

// healthy waits for the keyserver at addr to answer /healthz.
func healthy(t *testing.T, addr string) {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		// Reachability only: the keyclient verifies the server properly.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	waitFor(t, "keyserver answering at "+addr, 15*time.Second, func() error {
		resp, err := client.Get("https://" + addr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

func runWithTimeout(t *testing.T, d time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}
