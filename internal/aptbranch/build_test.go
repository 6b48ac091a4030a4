package aptbranch

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestBuildLayout(t *testing.T) {
	pkgs := debs(t,
		deb{name: "hello", version: "1:1.0-1", extra: "Depends: libc6\n"},
		deb{name: "libthing1", version: "2.0", arch: "all", extra: "Source: thing (2.0)\nSection: libs\n"},
	)
	out := filepath.Join(t.TempDir(), "branch")
	r := mustBuild(t, options(pkgs, out, signingKey(t)))
	if !r.Changed || r.Suite != "stable" || len(r.Packages) != 2 {
		t.Errorf("result %+v", r)
	}
	if dest, err := os.Readlink(out); err != nil || filepath.Join(filepath.Dir(out), dest) != r.Dir {
		t.Errorf("out links to %q (%v), want %s", dest, err, r.Dir)
	}
	for _, f := range []string{
		"dists/stable/Release", "dists/stable/InRelease", "dists/stable/Release.gpg",
		"dists/stable/main/binary-amd64/Packages", "dists/stable/main/binary-amd64/Packages.gz",
		"pool/main/h/hello/hello_1.0-1_amd64.deb", "pool/main/t/thing/libthing1_2.0_all.deb",
	} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}

	index := string(read(t, filepath.Join(out, "dists/stable/main/binary-amd64/Packages")))
	stanzas, err := parseStanzas(index)
	if err != nil || len(stanzas) != 2 {
		t.Fatalf("Packages: %v\n%s", err, index)
	}
	hello := stanzas[0]
	debData := read(t, filepath.Join(out, "pool/main/h/hello/hello_1.0-1_amd64.deb"))
	sum := sha256.Sum256(debData)
	for field, want := range map[string]string{
		"Package": "hello", "Version": "1:1.0-1", "Architecture": "amd64", "Depends": "libc6",
		"Maintainer": "Homeworld <dev@homeworld.example>", "Filename": "pool/main/h/hello/hello_1.0-1_amd64.deb",
		"Size": fmt.Sprint(len(debData)), "SHA256": hex.EncodeToString(sum[:]),
		"Section": "misc", "Priority": "optional", "Description": "test package hello\n tiny, for the branch tests.",
	} {
		if got := hello.Get(field); got != want {
			t.Errorf("Packages: hello's %s is %q, want %q", field, got, want)
		}
	}
	if hello[len(hello)-1].Name != "Description" || len(hello.Get("MD5sum")) != 32 {
		t.Errorf("Packages: hello's stanza:\n%s", hello)
	}
	if stanzas[1].Get("Section") != "libs" {
		t.Errorf("a control file's Section was not kept:\n%s", stanzas[1])
	}

	gz, err := os.Open(filepath.Join(out, "dists/stable/main/binary-amd64/Packages.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(zr); string(plain) != index {
		t.Error("Packages.gz is not Packages")
	}

	rel := string(read(t, filepath.Join(out, "dists/stable/Release")))
	for _, line := range []string{"Origin: Homeworld", "Label: Homeworld stable", "Suite: stable", "Codename: stable",
		"Date: Fri, 02 Jan 2026 03:04:05 UTC", "Architectures: amd64", "Components: main"} {
		if !strings.Contains(rel, line+"\n") {
			t.Errorf("Release lacks %q:\n%s", line, rel)
		}
	}
	for _, f := range []string{"main/binary-amd64/Packages", "main/binary-amd64/Packages.gz"} {
		data := read(t, filepath.Join(out, "dists/stable", f))
		sum := sha256.Sum256(data)
		want := fmt.Sprintf(" %x %8d %s\n", sum, len(data), f)
		if !strings.Contains(rel[strings.Index(rel, "SHA256:"):], want) {
			t.Errorf("Release's SHA256 section lacks %q:\n%s", want, rel)
		}
	}
}

// tree maps each file below dir to its contents.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(dir) // out is a link
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[strings.TrimPrefix(p, dir)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBuildIsDeterministic(t *testing.T) {
	pkgs := debs(t, deb{name: "hello", version: "1.0"}, deb{name: "world", version: "2.0", compress: "gzip"})
	key := signingKey(t)
	a := mustBuild(t, options(pkgs, filepath.Join(t.TempDir(), "a"), key))
	b := mustBuild(t, options(pkgs, filepath.Join(t.TempDir(), "b"), key))
	if filepath.Base(a.Dir) != ".a."+filepath.Base(b.Dir)[len(".b."):] {
		t.Errorf("the same branch got different names: %s, %s", a.Dir, b.Dir)
	}
	if ta, tb := tree(t, a.Dir), tree(t, b.Dir); !reflect.DeepEqual(ta, tb) {
		t.Error("two builds of the same inputs and Date differ")
	}
}

func TestRebuildSwapsAndCleansUp(t *testing.T) {
	key := signingKey(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "branch")
	first := mustBuild(t, options(debs(t, deb{name: "hello", version: "1.0"}), out, key))

	again := mustBuild(t, options(debs(t, deb{name: "hello", version: "1.0"}), out, key))
	if again.Changed || again.Dir != first.Dir {
		t.Errorf("rebuilding the published branch changed it: %+v", again)
	}

	second := mustBuild(t, options(debs(t, deb{name: "hello", version: "1.1"}, deb{name: "world", version: "0.1"}), out, key))
	if !second.Changed || second.Dir == first.Dir {
		t.Fatalf("a new version was not published: %+v", second)
	}
	if _, err := os.Stat(filepath.Join(out, "pool/main/h/hello/hello_1.1_amd64.deb")); err != nil {
		t.Error(err)
	}
	if got, want := listDir(t, parent), []string{filepath.Base(second.Dir), "branch"}; !reflect.DeepEqual(got, want) {
		t.Errorf("beside out: %v, want only %v", got, want)
	}
}

// TestRefusalsWriteNothing: each refusal names its cause, and leaves out
// and the folder around it exactly as they were.
func TestRefusalsWriteNothing(t *testing.T) {
	key := signingKey(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "branch")
	published := mustBuild(t, options(debs(t, deb{name: "hello", version: "1.2"}, deb{name: "world", version: "1.0"}), out, key))
	before := tree(t, out)
	beside := listDir(t, parent)

	dangling := debs(t, deb{name: "hello", version: "1.3"})
	if err := os.Symlink(filepath.Join(dangling, "gone.deb"), filepath.Join(dangling, "linked.deb")); err != nil {
		t.Fatal(err)
	}
	corrupt := debs(t, deb{name: "hello", version: "1.3"})
	if err := os.WriteFile(filepath.Join(corrupt, "broken.deb"), []byte("!<arch>\nnonsense"), 0o644); err != nil {
		t.Fatal(err)
	}
	notBranch := filepath.Join(t.TempDir(), "plain")
	if err := os.Mkdir(notBranch, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"backwards", options(debs(t, deb{name: "hello", version: "1.2~rc1"}), out, key), "version goes backwards: 1.2~rc1 is older than the published 1.2"},
		{"epoch backwards", options(debs(t, deb{name: "world", version: "0.9"}, deb{name: "hello", version: "2.0"}), out, key), "0.9 is older than the published 1.0"},
		{"same version, other bytes", options(debs(t, deb{name: "hello", version: "1.2", content: "changed"}), out, key), "hello 1.2 is already published with different contents"},
		{"duplicate", options(debs(t, deb{name: "hello", version: "1.3"}, deb{name: "hello", version: "1.4"}), out, key), "package hello comes twice: hello_1.3_amd64.deb (1.3) and hello_1.4_amd64.deb (1.4)"},
		{"missing", options(dangling, out, key), "linked.deb: missing"},
		{"unreadable", options(corrupt, out, key), "broken.deb: "},
		{"no packages folder", options(filepath.Join(parent, "nowhere"), out, key), "reading the packages folder"},
		{"empty folder", options(t.TempDir(), out, key), "no .deb files in"},
		{"bad name", Options{Packages: dangling, Out: out, Name: "Bad Name", Signer: key}, "branch name \"Bad Name\""},
		{"out is not a branch", options(debs(t, deb{name: "hello", version: "9"}), notBranch, key), "is not a branch published by `spire branch build`"},
	} {
		_, err := Build(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
	if !reflect.DeepEqual(tree(t, out), before) || !reflect.DeepEqual(listDir(t, parent), beside) {
		t.Error("a refused build changed the published branch or what is beside it")
	}
	if dest, _ := os.Readlink(out); filepath.Join(parent, dest) != published.Dir {
		t.Error("a refused build moved the link")
	}
	if names := listDir(t, notBranch); len(names) != 0 {
		t.Errorf("a refused build wrote into a folder that is not a branch: %v", names)
	}
}

// TestSigningFailureWritesNothing: a failure after the checks, while
// writing, still leaves nothing behind.
func TestSigningFailureWritesNothing(t *testing.T) {
	pub, err := signingKeyPublicOnly(t)
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	if _, err := Build(options(debs(t, deb{name: "hello", version: "1.0"}), filepath.Join(parent, "branch"), pub)); err == nil || !strings.Contains(err.Error(), "signing InRelease") {
		t.Errorf("Build with no private key: %v", err)
	}
	if names := listDir(t, parent); len(names) != 0 {
		t.Errorf("a failed build left %v", names)
	}
}
