//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestPinnedBuildRejectsChangedHash edits one hash in a copy of the etcd
// pins and checks that the build refuses it, naming the module.
func TestPinnedBuildRejectsChangedHash(t *testing.T) {
	tree := t.TempDir()
	for _, f := range []string{"build", "etcd/go.mod", "etcd/go.sum"} {
		data, err := os.ReadFile(filepath.Join("../upstream", f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(tree, f)), 0o755)
		if err := os.WriteFile(filepath.Join(tree, f), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sum := filepath.Join(tree, "etcd/go.sum")
	data, _ := os.ReadFile(sum)
	line := regexp.MustCompile(`(?m)^go\.etcd\.io/etcd/server/v3 v3\.7\.3 h1:(\S+)$`)
	m := line.FindSubmatch(data)
	if m == nil {
		t.Fatal("no pin for go.etcd.io/etcd/server/v3 in go.sum")
	}
	forged := strings.Replace(string(data), string(m[1]), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 1)
	os.WriteFile(sum, []byte(forged), 0o644)

	cmd := exec.Command(filepath.Join(tree, "build"), t.TempDir(), "etcd")
	cmd.Env = append(os.Environ(), "HOMEWORLD_CACHE="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("build with a forged hash succeeded:\n%s", out)
	}
	for _, want := range []string{"a pinned hash in", "does not match the source", "go.etcd.io/etcd/server/v3"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
}

// TestPinnedBuildOncePerComponent asks for etcd twice at once with an
// empty build cache, as parallel test packages do: one builds, the other
// waits for it and copies, and the cache holds one clean entry.
func TestPinnedBuildOncePerComponent(t *testing.T) {
	cache := t.TempDir()
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	dirs := []string{t.TempDir(), t.TempDir()}
	var wg sync.WaitGroup
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("../upstream/build", dirs[i], "etcd")
			cmd.Env = append(os.Environ(), "HOMEWORLD_CACHE="+cache)
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	builds := 0
	for i := range outs {
		if errs[i] != nil {
			t.Fatalf("build %d: %v\n%s", i, errs[i], outs[i])
		}
		builds += strings.Count(string(outs[i]), "== building etcd")
		if _, err := os.Stat(filepath.Join(dirs[i], "etcd")); err != nil {
			t.Errorf("build %d installed no etcd: %v\n%s", i, err, outs[i])
		}
	}
	if builds != 1 {
		t.Errorf("etcd was built %d times, want once:\n%s\n%s", builds, outs[0], outs[1])
	}
	entries, _ := filepath.Glob(filepath.Join(cache, "upstream", "etcd-*", "*"))
	var names []string
	for _, e := range entries {
		names = append(names, filepath.Base(e))
	}
	if strings.Join(names, " ") != "etcd etcdctl" {
		t.Errorf("the cache entry holds %v, want [etcd etcdctl]", names)
	}
}
