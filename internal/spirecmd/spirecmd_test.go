package spirecmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/disaster"
	"homeworld.dev/homeworld/internal/services"
)

// env is a test's view of the environment and workspace.
type env struct {
	t    *testing.T
	vars map[string]string
	dir  string // HOMEWORLD_DIR
	key  string // HOMEWORLD_DISASTER
}

func newEnv(t *testing.T) *env {
	t.Helper()
	base := t.TempDir()
	e := &env{t: t, dir: filepath.Join(base, "cluster"), key: filepath.Join(base, "disaster.key")}
	e.vars = map[string]string{"HOMEWORLD_DIR": e.dir, "HOMEWORLD_DISASTER": e.key}
	return e
}

type result struct {
	stdout, stderr string
	code           int
}

func (e *env) run(args ...string) result {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{
		IO: IO{
			Stdin:  strings.NewReader(""),
			Stdout: &stdout, Stderr: &stderr,
			Getenv: func(k string) string { return e.vars[k] },
		},
		scryptFactor: 10,
	}
	code := 0
	if err := a.run(context.Background(), args); err != nil {
		stderr.WriteString("spire: " + err.Error() + "\n")
		code = 1
	}
	return result{stdout.String(), stderr.String(), code}
}

func (e *env) mustRun(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("spire %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

func (e *env) fails(contains string, args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code == 0 {
		e.t.Fatalf("spire %s succeeded, want failure mentioning %q", strings.Join(args, " "), contains)
	}
	if !strings.Contains(r.stderr, contains) {
		e.t.Fatalf("spire %s: stderr does not mention %q:\n%s", strings.Join(args, " "), contains, r.stderr)
	}
	return r
}

// ready makes a workspace with the example setup.yaml and a disaster key.
func (e *env) ready() {
	e.t.Helper()
	e.mustRun("config", "populate")
	if err := disaster.Generate(e.key); err != nil {
		e.t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMissingEnvironment(t *testing.T) {
	e := newEnv(t)
	delete(e.vars, "HOMEWORLD_DIR")
	e.fails("set HOMEWORLD_DIR", "config", "check")
	e.fails("set HOMEWORLD_DIR", "authority", "show")

	e = newEnv(t)
	e.fails("does not exist (create it with `spire config populate`)", "config", "show")
	e.mustRun("config", "populate")
	delete(e.vars, "HOMEWORLD_DISASTER")
	e.fails("set HOMEWORLD_DISASTER", "authority", "gen")
	if _, err := os.Stat(filepath.Join(e.dir, "authorities")); !os.IsNotExist(err) {
		t.Error("authority gen without a key created authorities")
	}
	e.vars["HOMEWORLD_DISASTER"] = e.key
	e.fails("does not exist (create one with `spire disaster-key gen", "authority", "gen")
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	e := newEnv(t)
	other := filepath.Join(t.TempDir(), "elsewhere")
	e.mustRun("--dir", other, "config", "populate")
	if _, err := os.Stat(filepath.Join(other, "setup.yaml")); err != nil {
		t.Fatalf("--dir not honoured: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "setup.yaml")); !os.IsNotExist(err) {
		t.Error("populate wrote to HOMEWORLD_DIR despite --dir")
	}
	st, err := os.Stat(other)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("new workspace mode %v, want 0700", st.Mode().Perm())
	}
}

func TestPopulateCheckShow(t *testing.T) {
	e := newEnv(t)
	out := e.mustRun("config", "populate")
	if !strings.Contains(out.stdout, "spire config edit") {
		t.Errorf("populate does not say what to do next: %q", out.stdout)
	}
	setup := filepath.Join(e.dir, "setup.yaml")
	before := readFile(t, setup)
	e.fails("already exists", "config", "populate")
	if readFile(t, setup) != before {
		t.Error("second populate changed setup.yaml")
	}
	if r := e.mustRun("config", "check"); !strings.Contains(r.stdout, "valid: 1 supervisor, 3 master(s), 2 worker(s)") {
		t.Errorf("check output %q", r.stdout)
	}
	show := e.mustRun("config", "show").stdout
	if strings.Contains(show, "#") || !strings.Contains(show, "external-domain: cluster.example.org") {
		t.Errorf("show is not the normalized config:\n%s", show)
	}
	// JSON with setup.yaml's key names: valid JSON that spire itself reads
	// back (JSON is YAML) as the same cluster.
	js := e.mustRun("config", "show", "--json").stdout
	if !json.Valid([]byte(js)) || !strings.Contains(js, `"cidr-nodes": "192.0.2.0/24"`) || strings.Contains(js, "CIDRNodes") {
		t.Errorf("show --json:\n%s", js)
	}
	back, _, err := config.Parse("show.json", []byte(js))
	if err != nil {
		t.Fatalf("show --json does not read back: %v", err)
	}
	if again, _ := config.Marshal(back); string(again) != show {
		t.Errorf("show --json reads back as\n%s\nnot\n%s", again, show)
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	e := newEnv(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	text := strings.NewReplacer(
		"cidr-pods: 172.18.0.0/16", "cidr-pods: 172.18.0.0/33",
		"ip: 192.0.2.22", "ip: 192.0.2.21",
		"kind: worker", "kind: wroker",
	).Replace(string(configTemplate()))
	if err := os.WriteFile(bad, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.fails("problems:", "config", "check", bad)
	for _, want := range []string{
		fmt.Sprintf("%s:%d:14: addresses.cidr-pods:", bad, lineOf(text, "cidr-pods:")),
		"nodes[2].ip: 192.0.2.21 is already used by nodes[1]",
		`nodes[4].kind: "wroker" is not a node kind`,
		`nodes[5].kind: "wroker" is not a node kind`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stderr)
		}
	}
}

func TestEditRefusesInvalidResult(t *testing.T) {
	e := newEnv(t)
	e.ready()
	setup := filepath.Join(e.dir, "setup.yaml")
	before := readFile(t, setup)

	// An "editor" that breaks the file.
	e.vars["EDITOR"] = `sed -i 's/kind: supervisor/kind: overlord/'`
	e.fails(`"overlord" is not a node kind`, "config", "edit")
	if readFile(t, setup) != before {
		t.Fatal("invalid edit was saved")
	}
	rejected := readFile(t, setup+".rejected")
	if !strings.Contains(rejected, "overlord") {
		t.Error("the rejected edit was not kept")
	}

	// An editor that makes a valid change.
	e.vars["EDITOR"] = `sed -i 's/etcd-token: example-cluster-etcd-1/etcd-token: renamed-token/'`
	if r := e.mustRun("config", "edit"); !strings.Contains(r.stdout, "saved") {
		t.Errorf("edit output %q", r.stdout)
	}
	if !strings.Contains(readFile(t, setup), "etcd-token: renamed-token") {
		t.Error("valid edit was not saved")
	}
	leftovers, _ := filepath.Glob(filepath.Join(e.dir, ".setup-edit-*"))
	if len(leftovers) != 0 {
		t.Errorf("edit left drafts behind: %v", leftovers)
	}

	// An editor that fails leaves setup.yaml alone.
	e.vars["EDITOR"] = "false"
	e.fails("editor", "config", "edit")
	if !strings.Contains(readFile(t, setup), "etcd-token: renamed-token") {
		t.Error("failed editor changed setup.yaml")
	}
}

func TestAuthorityGenAndShow(t *testing.T) {
	e := newEnv(t)
	e.ready()
	gen := e.mustRun("authority", "gen")
	show := e.mustRun("authority", "show")
	for _, spec := range authority.Specs {
		if !strings.Contains(show.stdout, string(spec.Name)) {
			t.Errorf("show does not list %s:\n%s", spec.Name, show.stdout)
		}
	}
	if !strings.Contains(gen.stdout, show.stdout) {
		t.Error("gen and show disagree about the authorities")
	}
	if !strings.Contains(show.stdout, "ECDSA P-256") || !strings.Contains(show.stdout, "Ed25519") {
		t.Errorf("show lacks algorithms:\n%s", show.stdout)
	}
	e.mustRun("authority", "show", "--verify")

	e.fails("pass --force", "authority", "gen")

	// A wrong key neither verifies nor replaces.
	wrong := filepath.Join(t.TempDir(), "wrong.key")
	if err := disaster.Generate(wrong); err != nil {
		t.Fatal(err)
	}
	e.vars["HOMEWORLD_DISASTER"] = wrong
	e.fails("the disaster key does not match", "authority", "show", "--verify")
	e.fails("refusing to replace", "authority", "gen", "--force")
	if after := e.mustRun("authority", "show"); after.stdout != show.stdout {
		t.Error("a failed forced gen changed the authorities")
	}

	e.vars["HOMEWORLD_DISASTER"] = e.key
	e.mustRun("authority", "gen", "--force")
	if after := e.mustRun("authority", "show"); after.stdout == show.stdout {
		t.Error("forced gen did not replace the authorities")
	}
}

func TestAuthorityGenNeedsValidSetup(t *testing.T) {
	e := newEnv(t)
	e.ready()
	setup := filepath.Join(e.dir, "setup.yaml")
	if err := os.WriteFile(setup, []byte(strings.Replace(readFile(t, setup), "vlan: 0", "vlan: -1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.fails("setup.yaml must be valid first", "authority", "gen")
}

func TestUnknownCommandsSuggest(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args    []string
		suggest string
	}{
		{[]string{"confg"}, "config"},
		{[]string{"authorty", "gen"}, "authority"},
		{[]string{"config", "chek"}, "check"},
		{[]string{"authority", "shwo"}, "show"},
		{[]string{"disaster-key", "generate"}, "gen"},
	} {
		r := e.run(tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, "unknown command") || !strings.Contains(r.stderr, "Did you mean this?\n\t"+tc.suggest) {
			t.Errorf("spire %v: want a suggestion of %q, got:\n%s", tc.args, tc.suggest, r.stderr)
		}
	}
}

// TestEveryCommandHasHelp walks the command tree: every command explains
// itself, and --help works on each.
func TestEveryCommandHasHelp(t *testing.T) {
	e := newEnv(t)
	root := (&app{}).rootCommand()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		path := strings.Fields(c.CommandPath())[1:]
		if c.Short == "" {
			t.Errorf("%q has no short help", c.CommandPath())
		}
		if c.Runnable() && !c.HasSubCommands() && c.Long == "" && c.Name() != "version" && c.Parent().Name() != "completion" {
			t.Errorf("%q has no long help", c.CommandPath())
		}
		r := e.mustRun(append(path, "--help")...)
		if !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%q --help prints no usage", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func TestVersionAndCompletion(t *testing.T) {
	e := newEnv(t)
	if r := e.mustRun("--version"); !strings.HasPrefix(r.stdout, "spire ") {
		t.Errorf("--version = %q", r.stdout)
	}
	if r := e.mustRun("completion", "bash"); !strings.Contains(r.stdout, "__start_spire") {
		t.Error("bash completion script missing")
	}
}

func TestDisasterKeyGen(t *testing.T) {
	e := newEnv(t)
	e.mustRun("disaster-key", "gen", e.key)
	first := readFile(t, e.key)
	e.fails("already exists", "disaster-key", "gen", e.key)
	if readFile(t, e.key) != first {
		t.Error("disaster-key gen replaced a key")
	}
}

// lineOf is the 1-based line of the first occurrence of s in text.
func lineOf(text, s string) int {
	return strings.Count(text[:strings.Index(text, s)], "\n") + 1
}

func TestServicesUnits(t *testing.T) {
	e := newEnv(t)
	e.mustRun("config", "populate")
	out := t.TempDir()
	r := e.mustRun("services", "units", "supervisor", "--out", out)
	for _, name := range []string{"keyserver.service", "keyclient.service"} {
		if !strings.Contains(r.stdout, name) {
			t.Errorf("units output lacks %s: %s", name, r.stdout)
		}
		unit := readFile(t, filepath.Join(out, name))
		if !strings.Contains(unit, "ExecStart=/usr/bin/") {
			t.Errorf("%s:\n%s", name, unit)
		}
	}
	if !strings.Contains(readFile(t, filepath.Join(out, "keyclient.service")), "--metrics-listen "+services.KeyclientStatus.Addr("192.0.2.10")) {
		t.Error("keyclient unit does not listen on the supervisor's address")
	}
	e.fails(`no node named "nope"`, "services", "units", "nope", "--out", out)
	if r := e.mustRun("services", "list"); !strings.Contains(r.stdout, "keyclient") {
		t.Errorf("services list: %s", r.stdout)
	}
}
