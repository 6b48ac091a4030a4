package tree

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestBuildsOfflineFromItsMirror exports Homeworld's pinned modules with
// scripts/mirror and builds every binary from that mirror alone, from an
// empty module cache, with no network at all (scripts/mirror --check runs
// the build in a private network namespace). The upstream modules take the
// same path; their proof is the command in scripts/mirror's header (cold
// upstream builds take too long for every CI run).
func TestBuildsOfflineFromItsMirror(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: a private network namespace (CI runs as root; run the tests with sudo)")
	}
	mirror := t.TempDir()
	for _, args := range [][]string{{mirror, "."}, {"--check", mirror}} {
		cmd := exec.Command("../../scripts/mirror", args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("scripts/mirror %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("scripts/mirror %s:\n%s", strings.Join(args, " "), lastLine(string(out)))
	}
	// The module cache marks files read-only; let the test's cleanup go.
	exec.Command("chmod", "-R", "u+w", mirror).Run()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
