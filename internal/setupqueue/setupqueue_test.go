package setupqueue

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const configMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: x
data:
  k: v
`

func TestFileNamesSortAsEnqueued(t *testing.T) {
	early := time.Date(2001, 9, 9, 1, 46, 40, 5, time.UTC) // 1000000000.000000005
	late := early.Add(time.Second)
	a, err := FileName(SeqOf(early), "rbac")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := FileName(SeqOf(late), "dns-addon")
	if a != "1000000000.000000005.rbac.yaml" || !(a < b) {
		t.Errorf("FileName = %s, %s; want fixed-width names in time order", a, b)
	}
	it, ok := ParseItem(a)
	if !ok || it.Seq != SeqOf(early) || it.Manifest != "rbac" || it.File != a {
		t.Errorf("ParseItem(%s) = %+v, %v", a, it, ok)
	}
	for _, name := range []string{
		".1000000000.000000005.rbac.yaml", "1000000000.000000005.rbac.yaml.tmp",
		"1000000000.5.rbac.yaml", "1000000000.000000005.RBAC.yaml", "1000000000.000000005.rbac.yml",
		"1000000000.000000005..yaml", "notes.txt",
	} {
		if it, ok := ParseItem(name); ok {
			t.Errorf("ParseItem(%q) = %+v, want no item", name, it)
		}
	}
}

func TestCheckManifestName(t *testing.T) {
	for name, ok := range map[string]bool{
		"rbac": true, "dns-addon": true, "flannel-monitor2": true, "0": true,
		"": false, "-x": false, "x-": false, "a--b": false, "DNS": false, "dns_addon": false,
		"a.b": false, "a/b": false, strings.Repeat("a", 64): false, strings.Repeat("a", 63): true,
	} {
		if err := CheckManifestName(name); (err == nil) != ok {
			t.Errorf("CheckManifestName(%q) = %v, want ok %v", name, err, ok)
		}
	}
}

func TestEnqueue(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "queue") // created by Enqueue
	p1, err := Enqueue(dir, "rbac", configMap)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Enqueue(dir, "rbac", configMap) // the same again: a second item
	if err != nil {
		t.Fatal(err)
	}
	if p1 == p2 || filepath.Base(p1) > filepath.Base(p2) {
		t.Errorf("items %s, %s: want two, in enqueue order", p1, p2)
	}
	fi, err := os.Stat(p1)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("item mode %v, want 0600", fi.Mode().Perm())
	}
	if data, _ := os.ReadFile(p1); string(data) != configMap {
		t.Errorf("item holds %q", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("queue holds %d files, want the 2 items and no temporary file", len(entries))
	}
	if _, err := Enqueue(dir, "Bad_Name", configMap); err == nil {
		t.Error("a bad manifest name was accepted")
	}
	for _, bad := range []string{"", "---\n", "just: a mapping\n", "- a list\n", "apiVersion: v1\nkind: [\n", configMap + "---\nkind: ConfigMap\n"} {
		if _, err := Enqueue(dir, "bad", bad); err == nil {
			t.Errorf("manifest %q was accepted", bad)
		}
	}
	if items, _ := Pending(dir); len(items) != 2 {
		t.Errorf("%d items after refused enqueues, want 2", len(items))
	}
}

// TestEnqueueSortsLast: a new item sorts after every item pending or
// applied, even one stamped later than the clock (a clock that went
// back), and concurrent enqueues never share a name.
func TestEnqueueSortsLast(t *testing.T) {
	dir := t.TempDir()
	future, _ := FileName(SeqOf(time.Now().Add(time.Hour)), "rbac")
	os.MkdirAll(filepath.Join(dir, AppliedDir), 0o700)
	os.WriteFile(filepath.Join(dir, AppliedDir, future), []byte(configMap), 0o600)
	var wg sync.WaitGroup
	paths := make([]string, 20)
	for i := range paths {
		wg.Go(func() {
			p, err := Enqueue(dir, fmt.Sprintf("m%d", i), configMap)
			if err != nil {
				t.Error(err)
			}
			paths[i] = filepath.Base(p)
		})
	}
	wg.Wait()
	items, err := Pending(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(paths) {
		t.Fatalf("%d items, want %d", len(items), len(paths))
	}
	seqs := map[int64]bool{}
	for _, it := range items {
		if it.File <= future {
			t.Errorf("%s sorts before the applied %s", it.File, future)
		}
		if seqs[it.Seq] {
			t.Errorf("sequence %d used twice", it.Seq)
		}
		seqs[it.Seq] = true
	}
}

// TestListIgnoresNonItems: temporary and hidden files are skipped
// quietly, other strangers are reported (once, by the Queue).
func TestListIgnoresNonItems(t *testing.T) {
	dir := t.TempDir()
	item, _ := Enqueue(dir, "rbac", configMap)
	for _, name := range []string{".enqueue-123.tmp", "x.yaml.tmp", "notes.txt", "x.yaml~"} {
		os.WriteFile(filepath.Join(dir, name), nil, 0o600)
	}
	os.Mkdir(filepath.Join(dir, AppliedDir), 0o700)
	items, others, err := list(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].File != filepath.Base(item) || !slices.Equal(others, []string{"notes.txt"}) {
		t.Errorf("list = %+v, others %v", items, others)
	}
}

func TestStatusOfMetrics(t *testing.T) {
	text := `# TYPE setup_queue_pending gauge
setup_queue_pending 3
# TYPE setup_queue_failing gauge
setup_queue_failing{manifest="rbac"} 0
setup_queue_failing{manifest="dns-monitor"} 1
setup_queue_failing{manifest="dns-addon"} 1
# TYPE setup_queue_apiserver_unreachable gauge
setup_queue_apiserver_unreachable 0
`
	s, err := StatusOfMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if s.Pending != 3 || !slices.Equal(s.Failing, []string{"dns-addon", "dns-monitor"}) || s.Unreachable || s.OK() {
		t.Errorf("StatusOfMetrics = %+v", s)
	}
	if want := "setup queue: 3 items pending; failing: dns-addon, dns-monitor"; s.String() != want {
		t.Errorf("String() = %q, want %q", s, want)
	}
	if _, err := StatusOfMetrics(strings.NewReader("# TYPE other gauge\nother 1\n")); err == nil {
		t.Error("metrics without setup_queue_pending were accepted")
	}
	s, _ = StatusOfMetrics(strings.NewReader("setup_queue_pending 0\n"))
	if !s.OK() || s.String() != "setup queue: empty" {
		t.Errorf("an empty queue reads %+v, %q", s, s)
	}
}

func TestStatusOfDir(t *testing.T) {
	dir := t.TempDir()
	a, _ := Enqueue(dir, "rbac", configMap)
	b, _ := Enqueue(dir, "dns-addon", configMap)
	s, err := StatusOfDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Pending != 2 || !slices.Equal(s.Items, []string{filepath.Base(a), filepath.Base(b)}) {
		t.Errorf("StatusOfDir = %+v", s)
	}
	if s, err := StatusOfDir(filepath.Join(dir, "missing")); err != nil || !s.OK() {
		t.Errorf("a missing queue = %+v, %v; want empty", s, err)
	}
}

// TestCommandLine: --help teaches the flags; missing required flags,
// arguments and a kubectl that is not there are refused before anything
// runs.
func TestCommandLine(t *testing.T) {
	var help bytes.Buffer
	c := Command()
	c.SetOut(&help)
	c.SetArgs([]string{"--help"})
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--queue", "--kubectl", "--kubeconfig", "--listen", "--interval", "--keep", DefaultDir, "applied/", "delete its file"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("--help does not mention %s", want)
		}
	}
	for args, wantErr := range map[string]string{
		"--listen 127.0.0.1:0":       "required flag",
		"--listen 127.0.0.1:0 extra": "unknown command",
		"--listen 127.0.0.1:0 --kubectl /nonexistent/kubectl --kubeconfig k": "/nonexistent/kubectl",
	} {
		c := Command()
		c.SetArgs(strings.Fields(args))
		if err := c.Execute(); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("setup-queue %s = %v, want an error about %s", args, err, wantErr)
		}
	}
}

// TestPruneAndStrangers: applied/ keeps the newest Keep items and the
// audit log; a stranger in the queue is reported once, not every cycle.
func TestPruneAndStrangers(t *testing.T) {
	dir := t.TempDir()
	var logs []string
	q := New(Config{Dir: dir, Keep: 3, Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }})
	applied := filepath.Join(dir, AppliedDir)
	os.MkdirAll(applied, 0o700)
	var names []string
	for i := range 5 {
		name, _ := FileName(int64(i+1)*1e9, "rbac")
		names = append(names, name)
		os.WriteFile(filepath.Join(applied, name), []byte(configMap), 0o600)
	}
	os.WriteFile(filepath.Join(applied, AuditLog), []byte("{}\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600)
	for range 2 {
		if _, err := q.scan(); err != nil {
			t.Fatal(err)
		}
		q.prune()
	}
	var left []string
	entries, _ := os.ReadDir(applied)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if want := append(names[2:], AuditLog); !slices.Equal(left, want) {
		t.Errorf("applied/ holds %v, want %v", left, want)
	}
	if len(logs) != 1 || !strings.Contains(logs[0], "notes.txt") {
		t.Errorf("logs %q, want one line about notes.txt", logs)
	}
}
