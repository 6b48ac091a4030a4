//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/installer"
)

// OVMF's firmware, from Debian's ovmf package: the code read-only, the
// variables copied for each boot, as the firmware writes them.
const (
	ovmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	ovmfVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// bootTimeout bounds one boot to the marker. With software emulation on 2
// cores, the two boots side by side took 66-97 s each (the slower ones
// while other tests loaded the machine); one after the other, 3 minutes
// in all.
const bootTimeout = 150 * time.Second

// TestInstallerISOBootsInQEMU: the ISO `spire iso gen --serial` writes
// boots in QEMU, from BIOS and from UEFI, into Debian's installer, which
// reads the node's preseed and prints the early command's marker line,
// naming the node, on the serial console. Emulated in software (QEMU cannot
// use KVM everywhere the tests run) and without a network card, so nothing
// leaves the machine.
func TestInstallerISOBootsInQEMU(t *testing.T) {
	e := newEnv(t)
	e.spire(t, "disaster-key", "gen", e.key)
	e.spire(t, "config", "populate")
	e.spire(t, "authority", "gen")
	cfg, _, err := config.Load(filepath.Join(e.dir, "setup.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	node, ok := cfg.FindNode("worker1")
	if !ok {
		t.Fatal("the example setup.yaml has no worker1")
	}
	out := t.TempDir()
	e.spire(t, "iso", "gen", node.Hostname, "--serial", "--out", out)
	iso := filepath.Join(out, node.Hostname+".iso")
	want := fmt.Sprintf("%s%s (%s)", installer.EarlyMarker, cfg.FQDN(node), node.Kind)

	start := time.Now()
	t.Cleanup(func() {
		t.Logf("measured: the boots, side by side, took %v in all", time.Since(start).Round(time.Second))
	})
	for _, fw := range []struct {
		name     string
		firmware func(t *testing.T) []string
	}{
		{"BIOS", func(*testing.T) []string { return nil }}, // QEMU's own SeaBIOS
		{"UEFI", func(t *testing.T) []string {
			vars := filepath.Join(t.TempDir(), "OVMF_VARS.fd")
			data, err := os.ReadFile(ovmfVars)
			if err != nil {
				t.Fatalf("%v (install Debian's ovmf package)", err)
			}
			if err := os.WriteFile(vars, data, 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{
				"-drive", "if=pflash,format=raw,readonly=on,file=" + ovmfCode,
				"-drive", "if=pflash,format=raw,file=" + vars,
			}
		}},
	} {
		t.Run(fw.name, func(t *testing.T) {
			// Side by side: each QEMU emulates its one CPU on one core.
			t.Parallel()
			// 512 MiB reached the marker as well; 1024 is what the
			// installer's later steps want, and the guest only takes
			// what it touches.
			args := append(fw.firmware(t),
				"-machine", "q35", "-accel", "tcg", "-m", "1024",
				"-display", "none", "-monitor", "none", "-serial", "stdio",
				"-nic", "none",
				"-cdrom", iso, "-boot", "d", "-no-reboot")
			t.Logf("qemu-system-x86_64 %s", strings.Join(args, " "))
			boot := time.Now()
			q := startQEMU(t, args...)
			var line string
			waitFor(t, fw.name+" boot to the installer's early-command marker", bootTimeout, func() error {
				// Whether QEMU had ended before the console is read: its
				// output is then complete.
				var ended bool
				select {
				case <-q.exited:
					ended = true
				default:
				}
				console := q.console.String()
				i := strings.Index(console, installer.EarlyMarker)
				if i >= 0 {
					// The installer's screen drawing may precede the
					// marker on its line: the line is taken from it on.
					if l, _, complete := strings.Cut(console[i:], "\n"); complete {
						line = strings.TrimSuffix(l, "\r")
						return nil
					}
				}
				if ended {
					t.Fatalf("QEMU ended (%v) before the marker line\n%s", q.err, q.tail())
				}
				return notYet{q}
			})
			t.Logf("measured: %s boot to the installer's early-command marker took %v", fw.name, time.Since(boot).Round(time.Second))
			if line != want {
				t.Errorf("marker line %q, want %q\n%s", line, want, q.tail())
			}
		})
	}
}

// qemu is a running QEMU whose serial console is its standard output.
type qemu struct {
	console, stderr *output
	exited          chan struct{} // closed once QEMU has ended, err set
	err             error
}

// startQEMU starts qemu-system-x86_64, killing it when the test ends.
// Unlike daemon, it tells when QEMU ends by itself (a guest that panics or
// reboots ends it, with -no-reboot), so that the test fails at once.
func startQEMU(t *testing.T, args ...string) *qemu {
	t.Helper()
	q := &qemu{console: &output{}, stderr: &output{}, exited: make(chan struct{})}
	cmd := exec.Command("qemu-system-x86_64", args...)
	cmd.Stdout, cmd.Stderr = q.console, q.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("%v (install Debian's qemu-system-x86 package)", err)
	}
	go func() {
		q.err = cmd.Wait()
		close(q.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-q.exited
	})
	return q
}

// notYet is why a boot has not reached the marker line. waitFor polls
// often, and only its last error is shown: the console's tail is taken
// when the message is.
type notYet struct{ q *qemu }

func (n notYet) Error() string {
	return fmt.Sprintf("no complete line starting %q on the serial console yet\n%s", installer.EarlyMarker, n.q.tail())
}

// terminalControl matches the escape sequences and shifts the installer
// and the firmware draw the screen with.
var terminalControl = regexp.MustCompile(`\x1b(\[[0-9;?=]*[A-Za-z]|[()][0-9A-Za-z])|[\x0e\x0f\r]`)

// tail is the end of the serial console, without terminal control, and
// QEMU's own messages: where the boot stopped, for failure messages.
func (q *qemu) tail() string {
	const n = 3000
	console := q.console.String()
	console = terminalControl.ReplaceAllString(console[max(0, len(console)-n):], "")
	if console == "" {
		console = "(nothing)"
	}
	s := "serial console, last bytes:\n" + console
	if e := q.stderr.String(); e != "" {
		s += "\nQEMU's standard error:\n" + e
	}
	return s
}
