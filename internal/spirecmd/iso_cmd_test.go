package spirecmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/isoimage"
)

// spire iso gen writes one bootable (BIOS and UEFI) ISO per node, the same
// bytes twice, and refuses a setup.yaml without a mirror, naming the line.
func TestISOGen(t *testing.T) {
	e := newEnv(t)
	e.ready()
	e.mustRun("authority", "gen")
	out := t.TempDir()
	res := e.mustRun("iso", "gen", "--all", "--out", out)
	for _, n := range []string{"supervisor", "master1", "worker1"} {
		if !strings.Contains(res.stdout, n+": "+filepath.Join(out, n+".iso")) {
			t.Errorf("no ISO reported for %s:\n%s", n, res.stdout)
		}
	}
	if !strings.Contains(res.stderr, "knows no apt branch URL") {
		t.Errorf("no note about the missing apt branch: %s", res.stderr)
	}
	iso := filepath.Join(out, "worker1.iso")
	r, err := isoimage.Inspect(iso)
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasBoot("BIOS") || !r.HasBoot("UEFI") {
		t.Errorf("boot entries %+v", r.Boot)
	}
	first, _ := os.ReadFile(iso)
	e.mustRun("iso", "gen", "worker1", "--out", out)
	if again, _ := os.ReadFile(iso); string(again) != string(first) {
		t.Error("a second build differs")
	}

	setup := filepath.Join(e.dir, "setup.yaml")
	text := readFile(t, setup)
	lines := strings.Split(text, "\n")
	var kept []string
	for _, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), "mirror:") {
			kept = append(kept, l)
		}
	}
	if err := os.WriteFile(setup, []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := e.fails("cluster.mirror", "iso", "gen", "worker1", "--out", t.TempDir())
	if !strings.Contains(bad.stderr, "setup.yaml:") {
		t.Errorf("the refusal names no line: %s", bad.stderr)
	}
	e.fails("name the nodes, or say --all", "iso", "gen", "--out", out)
}
