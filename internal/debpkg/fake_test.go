package debpkg

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/images"
)

// testEpoch dates the test packages (SOURCE_DATE_EPOCH).
var testEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const testVersion = "0.0.42+g0123456789ab"

var (
	helloOnce sync.Once
	helloPath string
	helloErr  error
)

// hello builds, once per test binary, a tiny static Go program the way
// scripts/build builds Homeworld's, so lintian sees a real (small) ELF
// program under every name.
func hello(t *testing.T) string {
	t.Helper()
	helloOnce.Do(func() {
		dir, err := os.MkdirTemp("", "debpkg-hello-")
		if err != nil {
			helloErr = err
			return
		}
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.26\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"hello\") }\n"), 0o644)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", "hello", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			helloErr = &buildError{err, string(out)}
			return
		}
		helloPath = filepath.Join(dir, "hello")
	})
	if helloErr != nil {
		t.Fatalf("building the fake program: %v", helloErr)
	}
	return helloPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// fakeBin fills a fresh folder the way scripts/build lays out a bin
// folder: every program a package takes (the same small one under each
// name) and images/ with an index and its archives.
func fakeBin(t *testing.T) string {
	t.Helper()
	prog, err := os.ReadFile(hello(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, p := range All() {
		for _, b := range p.Bins {
			if err := os.WriteFile(filepath.Join(dir, b), prog, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	imgs := filepath.Join(dir, "images")
	os.MkdirAll(imgs, 0o755)
	var index strings.Builder
	for i, name := range []string{"pause", "hello"} {
		if err := os.WriteFile(filepath.Join(imgs, name+".tar"), []byte("archive of "+name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		index.WriteString(name + "\thomeworld.private/" + name + ":1\tsha256:" + strings.Repeat(string(rune('a'+i)), 64) + "\n")
	}
	if err := os.WriteFile(filepath.Join(imgs, images.IndexFile), []byte(index.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// build builds every package from bin into a fresh folder.
func build(t *testing.T, bin string) (string, []Result) {
	t.Helper()
	out := t.TempDir()
	results, err := Build(Options{BinDir: bin, OutDir: out, Version: testVersion, Epoch: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	return out, results
}

var (
	builtOnce    sync.Once
	builtDir     string
	builtResults []Result
)

// built is one build of the fake bin folder, shared by the tests that
// only read the packages.
func built(t *testing.T) (string, []Result) {
	t.Helper()
	builtOnce.Do(func() {
		dir, err := os.MkdirTemp("", "debpkg-built-")
		if err != nil {
			t.Fatal(err)
		}
		builtDir = dir
		builtResults, err = Build(Options{BinDir: fakeBin(t), OutDir: dir, Version: testVersion, Epoch: testEpoch})
		if err != nil {
			t.Fatal(err)
		}
	})
	if builtResults == nil {
		t.Fatal("the shared build failed")
	}
	return builtDir, builtResults
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	if helloPath != "" {
		os.RemoveAll(filepath.Dir(helloPath))
	}
	os.Exit(code)
}
