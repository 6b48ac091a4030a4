package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// buildSpire compiles the real binary once per test run.
func buildSpire(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "spire")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestBinary(t *testing.T) {
	bin := buildSpire(t)
	base := t.TempDir()
	dir, key := filepath.Join(base, "cluster"), filepath.Join(base, "disaster.key")
	env := append(os.Environ(), "HOMEWORLD_DIR="+dir, "HOMEWORLD_DISASTER="+key)
	spire := func(args ...string) *exec.Cmd {
		c := exec.Command(bin, args...)
		c.Env = env
		return c
	}

	t.Run("errors exit 1 with a prefix", func(t *testing.T) {
		out, err := spire("config", "check").CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("exit = %v, want status 1", err)
		}
		if !strings.HasPrefix(string(out), "spire: ") || !strings.Contains(string(out), "spire config populate") {
			t.Errorf("output %q", out)
		}
	})

	for _, args := range [][]string{{"config", "populate"}, {"disaster-key", "gen", key}} {
		if out, err := spire(args...).CombinedOutput(); err != nil {
			t.Fatalf("spire %v: %v\n%s", args, err, out)
		}
	}

	// ^C while the private keys are being sealed: the result must be all or
	// nothing, never a partial authorities folder or a staging leftover.
	t.Run("interrupted gen is all or nothing", func(t *testing.T) {
		cmd := spire("authority", "gen")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "sealing") {
				cmd.Process.Signal(syscall.SIGINT)
				break
			}
		}
		for sc.Scan() {
		}
		err = cmd.Wait()
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if err == nil {
			t.Log("gen finished before the interrupt landed")
			if strings.Join(names, ",") != "authorities,setup.yaml" {
				t.Errorf("workspace after gen: %v", names)
			}
			if out, err := spire("authority", "show", "--verify").CombinedOutput(); err != nil {
				t.Errorf("authorities incomplete: %v\n%s", err, out)
			}
			return
		}
		t.Logf("gen interrupted: %v", err)
		if strings.Join(names, ",") != "setup.yaml" {
			t.Errorf("interrupted gen left %v, want only setup.yaml", names)
		}
	})
}
