package debpkg

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLintian runs Debian's package checker on every package: no error and
// no warning. The tags Homeworld keeps are overridden inside the packages,
// each with its reason (lintianOverrides).
func TestLintian(t *testing.T) {
	if _, err := exec.LookPath("lintian"); err != nil {
		t.Fatal("lintian is not installed (scripts/install-deps installs it)")
	}
	_, results := built(t)
	args := []string{"--fail-on", "error,warning", "--tag-display-limit", "0"}
	for _, r := range results {
		args = append(args, r.File)
	}
	out, err := exec.Command("lintian", args...).CombinedOutput()
	var findings []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			findings = append(findings, line)
		}
	}
	if err != nil || len(findings) > 0 {
		t.Errorf("lintian: %v\n%s", err, out)
	}
}
