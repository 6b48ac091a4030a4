package spirecmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/branchkey"
	"homeworld.dev/homeworld/internal/disaster"
)

func TestAuthorityGenMakesBranchSigning(t *testing.T) {
	e := newEnv(t)
	e.ready()
	e.mustRun("authority", "gen")
	show := e.mustRun("authority", "show")
	if !strings.Contains(show.stdout, "branch-signing") || !strings.Contains(show.stdout, "Ed25519 (OpenPGP v4)") {
		t.Errorf("show does not list branch-signing:\n%s", show.stdout)
	}
	verify := e.mustRun("authority", "show", "--verify")
	if strings.Contains(verify.stderr, "warning") {
		t.Errorf("show --verify warns:\n%s", verify.stderr)
	}
	for _, name := range []string{branchkey.KeyringName, branchkey.ArmoredName, branchkey.SealedName} {
		if _, err := os.Stat(filepath.Join(e.dir, "authorities", "branch-signing", name)); err != nil {
			t.Error(err)
		}
	}
	e.fails("already exists", "authority", "add", "branch-signing")
}

// TestAuthorityAddToOldWorkspace: a workspace whose authorities predate
// branch-signing is told the command that adds it, and that command adds it
// without touching the others.
func TestAuthorityAddToOldWorkspace(t *testing.T) {
	e := newEnv(t)
	e.ready()
	e.mustRun("authority", "gen")
	if err := os.RemoveAll(filepath.Join(e.dir, "authorities", "branch-signing")); err != nil {
		t.Fatal(err)
	}
	before := e.mustRun("authority", "show")
	if !strings.Contains(before.stderr, "`spire authority add branch-signing`") {
		t.Errorf("show on an old workspace does not name the add command:\n%s", before.stderr)
	}
	sealed := readFile(t, filepath.Join(e.dir, "authorities", "private-keys.age"))

	e.fails("only branch-signing can be added", "authority", "add", "clusterca")
	wrong := filepath.Join(t.TempDir(), "wrong.key")
	if err := disaster.Generate(wrong); err != nil {
		t.Fatal(err)
	}
	e.vars["HOMEWORLD_DISASTER"] = wrong
	e.fails("the disaster key does not match", "authority", "add", "branch-signing")
	e.vars["HOMEWORLD_DISASTER"] = e.key

	e.mustRun("authority", "add", "branch-signing")
	after := e.mustRun("authority", "show", "--verify")
	if !strings.HasPrefix(squeeze(after.stdout), squeeze(before.stdout)) || !strings.Contains(after.stdout, "branch-signing") {
		t.Errorf("add changed the other authorities or did not add branch-signing:\nbefore:\n%s\nafter:\n%s", before.stdout, after.stdout)
	}
	if readFile(t, filepath.Join(e.dir, "authorities", "private-keys.age")) != sealed {
		t.Error("add rewrote the other authorities' sealed keys")
	}
}

// squeeze drops the column alignment, which a longer row changes.
func squeeze(table string) string { return strings.Join(strings.Fields(table), " ") }
