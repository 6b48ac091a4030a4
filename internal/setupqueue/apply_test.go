package setupqueue

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"homeworld.dev/homeworld/internal/kubeapply"
	"homeworld.dev/homeworld/internal/kubetest"
)

// TestAgainstAPIServer runs the queue against one real apiserver, shared
// by the subtests; each works in a namespace of its own.
func TestAgainstAPIServer(t *testing.T) {
	api := kubetest.Start(t)
	t.Run("InOrder", func(t *testing.T) { testInOrder(t, api) })
	t.Run("RefusedItemStaysPending", func(t *testing.T) { testRefused(t, api) })
	t.Run("DependencyEnqueuedLater", func(t *testing.T) { testDependency(t, api) })
	t.Run("APIServerAway", func(t *testing.T) { testAway(t, api) })
	t.Run("CrashSafety", func(t *testing.T) { testCrashSafety(t, api) })
	t.Run("ArrivalWakesTheDaemon", func(t *testing.T) { testArrivalWakes(t, api) })
}

// harness is a queue under test with its metrics and log.
type harness struct {
	q   *Queue
	dir string
	reg *prometheus.Registry

	mu   sync.Mutex
	logs []string
}

func newHarness(t *testing.T, kubectl kubeapply.Kubectl) *harness {
	h := &harness{dir: t.TempDir(), reg: prometheus.NewRegistry()}
	h.q = New(Config{Dir: h.dir, Kubectl: kubectl, Logf: func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		t.Log(line)
		h.mu.Lock()
		h.logs = append(h.logs, line)
		h.mu.Unlock()
	}})
	if err := h.q.Register(h.reg); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) enqueue(t *testing.T, name, manifest string) string {
	t.Helper()
	p, err := Enqueue(h.dir, name, manifest)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Base(p)
}

// logsWith counts log lines containing s.
func (h *harness) logsWith(s string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, l := range h.logs {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// metrics is what Prometheus would read: the served text, checked by
// promtool and parsed.
func (h *harness) metrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return checkMetrics(t, rec.Body.String())
}

func checkMetrics(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s\n%s", err, out, text)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("metrics do not parse: %v\n%s", err, text)
	}
	return fams
}

// value is the series of name with label manifest (or none, if ""); -1
// if there is no such series.
func value(fams map[string]*dto.MetricFamily, name, manifest string) float64 {
	for _, m := range fams[name].GetMetric() {
		if manifestLabel(m) != manifest {
			continue
		}
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	return -1
}

// auditLog reads applied/audit.log; every line must parse.
func auditLog(t *testing.T, dir string) []Record {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, AppliedDir, AuditLog))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func namespace(name string) string {
	return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n"
}

func configMapIn(ns, name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n  k: v\n", name, ns)
}

func admin(api *kubetest.APIServer) kubeapply.Kubectl {
	return kubeapply.Kubectl{Path: api.KubectlBin, Kubeconfig: api.Kubeconfig, CacheDir: api.KubectlCache}
}

func testInOrder(t *testing.T, api *kubetest.APIServer) {
	h := newHarness(t, admin(api))
	ctx := t.Context()
	if s := h.q.Once(ctx); len(s.Applied)+len(s.Failed) != 0 || s.Pending != 0 {
		t.Errorf("an empty queue: %+v", s)
	}
	first := h.enqueue(t, "ns", namespace("in-order"))
	// Before any cycle has seen it, the metrics count it: a reader must
	// not take a queue whose cycle is busy elsewhere for an empty one.
	if got := value(h.metrics(t), MetricPending, ""); got != 1 {
		t.Errorf("%s before a cycle saw the item = %v, want 1", MetricPending, got)
	}
	items := []string{
		first,
		h.enqueue(t, "config", configMapIn("in-order", "a")+"---\n"+configMapIn("in-order", "b")),
		h.enqueue(t, "rbac", `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: in-order}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [get]}
`),
	}
	s := h.q.Once(ctx)
	if !slices.Equal(s.Applied, items) || len(s.Failed) != 0 || s.Pending != 0 || s.Unreachable {
		t.Fatalf("first cycle: %+v, want %v applied", s, items)
	}
	again := h.enqueue(t, "config", configMapIn("in-order", "a")+"---\n"+configMapIn("in-order", "b"))
	if s := h.q.Once(ctx); !slices.Equal(s.Applied, []string{again}) {
		t.Fatalf("second cycle: %+v", s)
	}
	var got []string
	for _, r := range auditLog(t, h.dir) {
		got = append(got, r.Item+": "+strings.Join(r.Objects, ", "))
	}
	want := []string{
		items[0] + ": namespace/in-order created",
		items[1] + ": configmap/a created, configmap/b created",
		items[2] + ": role.rbac.authorization.k8s.io/reader created",
		again + ": configmap/a unchanged, configmap/b unchanged",
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	applied, _ := Pending(filepath.Join(h.dir, AppliedDir))
	if len(applied) != 4 {
		t.Errorf("applied/ holds %d items, want 4", len(applied))
	}
	m := h.metrics(t)
	for _, c := range []struct {
		name, manifest string
		want           float64
	}{
		{MetricApplied, "ns", 1}, {MetricApplied, "config", 2}, {MetricApplied, "rbac", 1},
		{MetricFailures, "config", 0}, {MetricFailing, "config", 0}, {MetricFailing, "rbac", 0},
		{MetricPending, "", 0}, {MetricUnreachable, "", 0},
	} {
		if got := value(m, c.name, c.manifest); got != c.want {
			t.Errorf("%s{manifest=%q} = %v, want %v", c.name, c.manifest, got, c.want)
		}
	}
	if value(m, MetricLastSuccess, "") <= 0 {
		t.Errorf("%s is not set", MetricLastSuccess)
	}
	if s, err := StatusOfDir(h.dir); err != nil || !s.OK() {
		t.Errorf("StatusOfDir = %+v, %v", s, err)
	}
}

// testRefused: items the API server refuses (an invalid Deployment, an
// unknown kind) stay queued and are named in the metrics, the items
// after them go in, and an operator can give up on one by deleting it.
func testRefused(t *testing.T, api *kubetest.APIServer) {
	h := newHarness(t, admin(api))
	ctx := t.Context()
	ns := h.enqueue(t, "ns", namespace("refused"))
	bad := h.enqueue(t, "bad-deployment", `apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: refused}
spec:
  replicas: -1
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec: {containers: [{name: c, image: example.invalid/x}]}
`)
	unknown := h.enqueue(t, "unknown-kind", "apiVersion: example.invalid/v1\nkind: NoSuchKind\nmetadata: {name: x}\n")
	good := h.enqueue(t, "config", configMapIn("refused", "after"))
	for cycle := 1; cycle <= 3; cycle++ {
		s := h.q.Once(ctx)
		wantApplied := []string{ns, good}
		if cycle > 1 {
			wantApplied = nil
		}
		if !slices.Equal(s.Applied, wantApplied) || !slices.Equal(s.Failed, []string{bad, unknown}) || s.Pending != 2 || s.Unreachable {
			t.Fatalf("cycle %d: %+v, want %v applied and the two bad items failed", cycle, s, wantApplied)
		}
	}
	api.Kubectl(t, "get", "configmap", "after", "-n", "refused")
	m := h.metrics(t)
	for _, c := range []struct {
		name, manifest string
		want           float64
	}{
		{MetricFailing, "bad-deployment", 1}, {MetricFailing, "unknown-kind", 1}, {MetricFailing, "config", 0},
		{MetricFailures, "bad-deployment", 3}, {MetricFailures, "unknown-kind", 3},
		{MetricApplied, "config", 1}, {MetricApplied, "bad-deployment", 0}, {MetricPending, "", 2},
	} {
		if got := value(m, c.name, c.manifest); got != c.want {
			t.Errorf("%s{manifest=%q} = %v, want %v", c.name, c.manifest, got, c.want)
		}
	}
	if n := h.logsWith(bad + " failed"); n != 1 {
		t.Errorf("%d log lines for %s's three identical failures, want 1", n, bad)
	}
	if n := h.logsWith("spec.replicas"); n != 1 {
		t.Errorf("the API server's reason (spec.replicas) is logged %d times, want once", n)
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	st, err := StatusOfMetrics(rec.Body)
	if err != nil || st.Pending != 2 || !slices.Equal(st.Failing, []string{"bad-deployment", "unknown-kind"}) {
		t.Errorf("StatusOfMetrics = %+v, %v", st, err)
	}

	os.Remove(filepath.Join(h.dir, unknown)) // the operator gives up on it
	h.q.Once(ctx)
	m = h.metrics(t)
	if value(m, MetricFailing, "unknown-kind") != 0 || value(m, MetricFailing, "bad-deployment") != 1 || value(m, MetricPending, "") != 1 {
		t.Errorf("after deleting %s: failing{unknown-kind} %v, failing{bad-deployment} %v, pending %v; want 0, 1, 1", unknown,
			value(m, MetricFailing, "unknown-kind"), value(m, MetricFailing, "bad-deployment"), value(m, MetricPending, ""))
	}
}

// testDependency: RBAC for a namespace enqueued after it goes in on the
// next cycle, and its manifest stops failing.
func testDependency(t *testing.T, api *kubetest.APIServer) {
	h := newHarness(t, admin(api))
	ctx := t.Context()
	rbac := h.enqueue(t, "rbac", `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: view, namespace: later}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {kind: User, name: someone, apiGroup: rbac.authorization.k8s.io}
`)
	ns := h.enqueue(t, "ns", namespace("later"))
	s := h.q.Once(ctx)
	if !slices.Equal(s.Applied, []string{ns}) || !slices.Equal(s.Failed, []string{rbac}) || s.Pending != 1 {
		t.Fatalf("first cycle: %+v, want the namespace in and the RBAC refused", s)
	}
	if value(h.metrics(t), MetricFailing, "rbac") != 1 {
		t.Error("rbac is not failing after the first cycle")
	}
	s = h.q.Once(ctx)
	if !slices.Equal(s.Applied, []string{rbac}) || len(s.Failed) != 0 || s.Pending != 0 {
		t.Fatalf("second cycle: %+v, want the RBAC in", s)
	}
	if m := h.metrics(t); value(m, MetricFailing, "rbac") != 0 || value(m, MetricFailures, "rbac") != 1 {
		t.Errorf("after the second cycle failing{rbac} %v, failures_total{rbac} %v; want 0, 1", value(m, MetricFailing, "rbac"), value(m, MetricFailures, "rbac"))
	}
	if n := h.logsWith("after 1 failed attempt)"); n != 1 {
		t.Errorf("the late success is logged %d times with its failed attempts, want once", n)
	}
	api.Kubectl(t, "get", "rolebinding", "view", "-n", "later")
}

// testAway: while the API server does not answer, items wait, nothing
// counts as failed, and that is logged once; once it answers they go in.
func testAway(t *testing.T, api *kubetest.APIServer) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	closed := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(kubetest.FreePort(t)))
	if err := api.WriteKubeconfig(kubeconfig, closed); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, kubeapply.Kubectl{Path: api.KubectlBin, Kubeconfig: kubeconfig, CacheDir: api.KubectlCache})
	ctx := t.Context()
	ns := h.enqueue(t, "ns", namespace("away"))
	cm := h.enqueue(t, "config", configMapIn("away", "c"))
	for cycle := 1; cycle <= 3; cycle++ {
		if s := h.q.Once(ctx); !s.Unreachable || len(s.Applied)+len(s.Failed) != 0 || s.Pending != 2 {
			t.Fatalf("cycle %d without an API server: %+v", cycle, s)
		}
	}
	m := h.metrics(t)
	if value(m, MetricUnreachable, "") != 1 || value(m, MetricFailures, "ns") != 0 || value(m, MetricFailing, "ns") != 0 || value(m, MetricPending, "") != 2 {
		t.Errorf("without an API server: unreachable %v, failures{ns} %v, failing{ns} %v, pending %v; want 1, 0, 0, 2",
			value(m, MetricUnreachable, ""), value(m, MetricFailures, "ns"), value(m, MetricFailing, "ns"), value(m, MetricPending, ""))
	}
	if n := h.logsWith("does not answer"); n != 1 {
		t.Errorf("%d log lines about the API server not answering in three cycles, want 1", n)
	}

	if err := api.WriteKubeconfig(kubeconfig, api.URL); err != nil { // it answers now
		t.Fatal(err)
	}
	if s := h.q.Once(ctx); !slices.Equal(s.Applied, []string{ns, cm}) || s.Unreachable || s.Pending != 0 {
		t.Fatalf("once the API server answers: %+v", s)
	}
	if value(h.metrics(t), MetricUnreachable, "") != 0 || h.logsWith("answers again") != 1 {
		t.Error("the API server's return is not reported")
	}
}
