package spirecmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gokeytab "github.com/jcmturner/gokrb5/v8/keytab"

	"homeworld.dev/homeworld/internal/disaster"
	"homeworld.dev/homeworld/internal/keytab"
	"homeworld.dev/homeworld/internal/krb5test"
)

const (
	supHTTP = "HTTP/supervisor.cluster.example.org"
	supHost = "host/supervisor.cluster.example.org"
)

// keytabEnv is a workspace with authorities and kerberos-realm set, whose
// spire runs the krb5 tools against a real realm holding the supervisor's
// principals, and the path of their exported keytab.
func keytabEnv(t *testing.T) (*env, *krb5test.KDC, string) {
	t.Helper()
	k := krb5test.Start(t, krb5test.Options{Kadmind: true})
	k.AddService(t, supHTTP)
	k.AddService(t, supHost)
	kt := filepath.Join(t.TempDir(), "sup.keytab")
	k.Keytab(t, kt, supHTTP, supHost)

	e := newEnv(t)
	e.ready()
	setup := filepath.Join(e.dir, "setup.yaml")
	text := strings.Replace(readFile(t, setup), `kerberos-realm: ""`, "kerberos-realm: "+k.Realm, 1)
	if err := os.WriteFile(setup, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustRun("authority", "gen")
	for _, kv := range k.Env() {
		name, value, _ := strings.Cut(kv, "=")
		e.vars[name] = value
	}
	e.vars["TMPDIR"] = t.TempDir()
	return e, k, kt
}

// noKeytabs fails t if the workspace holds a sealed keytab.
func noKeytabs(t *testing.T, e *env) {
	t.Helper()
	if found, _ := filepath.Glob(filepath.Join(e.dir, "keytab.*")); len(found) != 0 {
		t.Fatalf("refused input left %v", found)
	}
}

func TestKeytabImportRotateDeloldExport(t *testing.T) {
	e, k, kt := keytabEnv(t)
	plain, err := os.ReadFile(kt)
	if err != nil {
		t.Fatal(err)
	}

	r := e.mustRun("keytab", "import", "supervisor", kt)
	for _, p := range []string{supHTTP, supHost} {
		if !strings.Contains(r.stdout, p+"@HOMEWORLD.TEST kvno 1\n") {
			t.Errorf("import does not print %s kvno 1:\n%s", p, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("import of a complete keytab warns:\n%s", r.stderr)
	}
	sealedPath := filepath.Join(e.dir, "keytab.supervisor.crypt")
	st, err := os.Stat(sealedPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("sealed keytab: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	sealed := readFile(t, sealedPath)
	var parsed gokeytab.Keytab
	if err := parsed.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	for _, entry := range parsed.Entries {
		if strings.Contains(sealed, string(entry.Key.KeyValue)) {
			t.Fatal("the sealed keytab holds a key in clear")
		}
	}
	e.fails("supervisor already has a keytab", "keytab", "import", "supervisor", kt)
	e.fails("pass --force", "keytab", "import", "supervisor.cluster.example.org", kt)

	list := e.mustRun("keytab", "list").stdout
	for _, want := range []string{"supervisor (" + sealedPath + "):", "KVNO", supHTTP + "@HOMEWORLD.TEST", supHost + "@HOMEWORLD.TEST", "aes256-cts-hmac-sha1-96", "aes128-cts-hmac-sha1-96"} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q:\n%s", want, list)
		}
	}
	if one := e.mustRun("keytab", "list", "supervisor").stdout; one != list {
		t.Errorf("list supervisor:\n%s\nlist:\n%s", one, list)
	}

	r = e.mustRun("keytab", "rotate", "supervisor")
	for _, p := range []string{supHTTP, supHost} {
		if !strings.Contains(r.stdout, p+"@HOMEWORLD.TEST: kvno 1 -> 2\n") {
			t.Errorf("rotate does not print %s's kvno 1 -> 2:\n%s", p, r.stdout)
		}
		if got := k.KadminLocal(t, "getprinc "+p); !strings.Contains(got, "vno 2, aes256-cts-hmac-sha1-96") {
			t.Errorf("the realm's %s has no kvno 2 key:\n%s", p, got)
		}
	}
	emptyTemp(t, e)

	// The rotated keytab works with the real tools: kinit with its keys,
	// and it decrypts a service ticket the realm issues now.
	rotated := filepath.Join(t.TempDir(), "rotated.keytab")
	e.mustRun("keytab", "export", "supervisor", rotated)
	k.AddPrincipal(t, "admin", "admin's password")
	cc := k.Kinit(t, "admin", "admin's password")
	for _, p := range []string{supHTTP, supHost} {
		k.KinitKeytab(t, p, rotated)
		if out, err := k.Command("kvno", "-c", cc, "-k", rotated, p).CombinedOutput(); err != nil {
			t.Errorf("kvno -k %s with the rotated keytab: %v\n%s", p, err, out)
		}
	}

	e.mustRun("keytab", "delold", "supervisor")
	emptyTemp(t, e)
	key, err := disaster.Load(e.key)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := keytab.List(e.dir, "supervisor", key)
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range entries {
		if entry.KVNO != 2 {
			t.Errorf("after delold the keytab still has %+v", entry)
		}
	}
	if len(entries) != 4 {
		t.Errorf("after delold: %d entries, want 4 (two principals, two enctypes)", len(entries))
	}
	if r := e.mustRun("keytab", "delold", "supervisor"); !strings.Contains(r.stdout, "no old keys") {
		t.Errorf("a second delold: %q", r.stdout)
	}

	// export writes exactly what is sealed, 0600, and replaces only with --force.
	out := filepath.Join(t.TempDir(), "out.keytab")
	e.mustRun("keytab", "export", "supervisor", out)
	want, err := keytab.Unseal(e.dir, "supervisor", key)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, out); got != string(want) {
		t.Error("export does not write the sealed keytab")
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("exported keytab has mode %v, want 0600", st.Mode().Perm())
	}
	e.fails("already exists; pass --force", "keytab", "export", "supervisor", out)
	e.mustRun("keytab", "export", "--force", "supervisor", out)
	// And what it wrote imports back.
	e.mustRun("keytab", "import", "--force", "supervisor", out)
}

func TestKeytabRefusesBadInput(t *testing.T) {
	e, _, kt := keytabEnv(t)
	notKeytab := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notKeytab, []byte("HTTP/supervisor.cluster.example.org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.fails(notKeytab+": not an MIT keytab", "keytab", "import", "supervisor", notKeytab)
	noKeytabs(t, e)
	e.fails(`no node named "nosuch"`, "keytab", "import", "nosuch", kt)
	noKeytabs(t, e)
	e.fails("no keytab is stored for this node", "keytab", "list", "supervisor")
	if r := e.mustRun("keytab", "list"); !strings.Contains(r.stdout, "no keytabs") {
		t.Errorf("list with none: %q", r.stdout)
	}

	other := filepath.Join(t.TempDir(), "other.key")
	if err := disaster.Generate(other); err != nil {
		t.Fatal(err)
	}
	right := e.vars["HOMEWORLD_DISASTER"]
	e.vars["HOMEWORLD_DISASTER"] = other
	e.fails("refusing to seal with this disaster key", "keytab", "import", "supervisor", kt)
	noKeytabs(t, e)

	e.vars["HOMEWORLD_DISASTER"] = right
	e.mustRun("keytab", "import", "supervisor", kt)
	sealed := readFile(t, filepath.Join(e.dir, "keytab.supervisor.crypt"))
	e.vars["HOMEWORLD_DISASTER"] = other
	for _, args := range [][]string{
		{"keytab", "list"},
		{"keytab", "rotate", "supervisor"},
		{"keytab", "delold", "supervisor"},
		{"keytab", "export", "supervisor", filepath.Join(t.TempDir(), "x.keytab")},
		{"keytab", "import", "--force", "supervisor", kt},
	} {
		e.fails("disaster key does not match", args...)
	}
	if readFile(t, filepath.Join(e.dir, "keytab.supervisor.crypt")) != sealed {
		t.Error("a command with the wrong disaster key changed the sealed keytab")
	}
	emptyTemp(t, e)
}

func TestKeytabImportWarnsAboutMissingPrincipals(t *testing.T) {
	e, k, _ := keytabEnv(t)
	k.AddService(t, "HTTP/elsewhere.example.org")
	kt := filepath.Join(t.TempDir(), "partial.keytab")
	k.Keytab(t, kt, supHTTP, "HTTP/elsewhere.example.org")
	r := e.mustRun("keytab", "import", "supervisor", kt)
	if !strings.Contains(r.stderr, "no key for "+supHost+"@HOMEWORLD.TEST") || strings.Contains(r.stderr, supHTTP+"@") {
		t.Errorf("import warnings:\n%s", r.stderr)
	}
}

// emptyTemp fails t if spire left anything in its TMPDIR, where keytabs
// are in clear while k5srvutil runs.
func emptyTemp(t *testing.T, e *env) {
	t.Helper()
	if left, err := os.ReadDir(e.vars["TMPDIR"]); err != nil || len(left) != 0 {
		t.Errorf("TMPDIR holds %v (%v)", left, err)
	}
}

func TestKeytabHelpTeaches(t *testing.T) {
	e := newEnv(t)
	help := e.mustRun("keytab", "--help").stdout
	for _, want := range []string{"key gateway", "HTTP/<supervisor fqdn>@REALM", "host/<supervisor fqdn>@REALM", "auth-monitor", "spire keytab rotate", "delold"} {
		if !strings.Contains(help, want) {
			t.Errorf("keytab --help lacks %q", want)
		}
	}
	if !bytes.Contains([]byte(e.mustRun("keytab", "rotate", "--help").stdout), []byte("k5srvutil")) {
		t.Error("rotate --help does not say it runs k5srvutil")
	}
}
