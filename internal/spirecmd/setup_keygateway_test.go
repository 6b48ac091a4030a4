package spirecmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/layout"
)

// setup keygateway installs the unsealed keytab (0600) and krb5.conf below
// a root; again changes nothing; another keytab is refused until
// update-keygateway replaces it.
func TestSetupKeygatewayBelowRoot(t *testing.T) {
	e, k, kt := keytabEnv(t)
	e.mustRun("keytab", "import", "supervisor", kt)
	root := t.TempDir()
	e.mustRun("setup", "keygateway", "--root", root, "--krb5-conf", k.Config)
	installed := filepath.Join(root, layout.Keytab)
	want, _ := os.ReadFile(kt)
	if got, err := os.ReadFile(installed); err != nil || string(got) != string(want) {
		t.Fatalf("installed keytab differs from the imported one (%v)", err)
	}
	if st, _ := os.Stat(installed); st.Mode().Perm() != 0o600 {
		t.Errorf("keytab mode %v", st.Mode().Perm())
	}
	if readFile(t, filepath.Join(root, layout.Krb5Conf)) != readFile(t, k.Config) {
		t.Error("krb5.conf not installed")
	}
	e.mustRun("setup", "keygateway", "--root", root, "--krb5-conf", k.Config)

	// A rotated keytab differs from the installed one.
	e.mustRun("keytab", "rotate", "supervisor")
	e.fails("'spire setup update-keygateway' replaces it", "setup", "keygateway", "--root", root, "--krb5-conf", k.Config)
	if got, _ := os.ReadFile(installed); string(got) != string(want) {
		t.Error("a refused setup keygateway changed the keytab")
	}
	e.mustRun("setup", "update-keygateway", "--root", root, "--krb5-conf", k.Config)
	if got, _ := os.ReadFile(installed); string(got) == string(want) {
		t.Error("update-keygateway kept the old keytab")
	}
}

func TestSetupKeygatewayNeedsTheGatewayPrincipal(t *testing.T) {
	e, k, _ := keytabEnv(t)
	other := filepath.Join(t.TempDir(), "host-only.keytab")
	k.Keytab(t, other, supHost)
	e.mustRun("keytab", "import", "supervisor", other)
	out := e.fails("holds no key for "+supHTTP+"@"+k.Realm, "setup", "keygateway", "--root", t.TempDir(), "--krb5-conf", k.Config)
	if !strings.Contains(out.stderr, "addprinc -randkey") {
		t.Errorf("the error does not say how to fix it: %s", out.stderr)
	}
}
