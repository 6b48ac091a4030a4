package flannelmonitor

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

const ns = "kube-system"

// Node addresses (documentation space) and the pod addresses that stand
// for pods on them: loopback addresses, where the tests' servers listen.
const (
	node1, node2, node3, node4 = "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"
)

func nodes(ips ...string) []fakeNode {
	var out []fakeNode
	for i, ip := range ips {
		out = append(out, fakeNode{name: fmt.Sprintf("node%d", i+1), ips: []string{ip}})
	}
	return out
}

func running(name, app, podIP, hostIP string) fakePod {
	return fakePod{name: name, namespace: ns, app: app, phase: "Running", podIP: podIP, hostIP: hostIP}
}

// serveAt serves h on each loopback address, all on one port (pods of a
// cluster share their port), and returns the port.
func serveAt(t *testing.T, addrs []string, handlers ...http.Handler) int {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		var ls []net.Listener
		port := 0
		ok := true
		for _, a := range addrs {
			l, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, l)
			port = l.Addr().(*net.TCPAddr).Port
		}
		if !ok { // the port was taken on a later address; try another
			for _, l := range ls {
				l.Close()
			}
			continue
		}
		for i, l := range ls {
			srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: handlers[i]}}
			srv.Start()
			t.Cleanup(srv.Close)
		}
		return port
	}
	t.Fatalf("no port free on all of %v", addrs)
	return 0
}

func TestMatchPodsToNodes(t *testing.T) {
	api, client := newFakeAPIServer(t)
	api.set(nodes(node1, node2, node3), []fakePod{
		running("m-a", MonitorApp, "10.32.1.5", node1),
		running("m-b", MonitorApp, "10.32.2.5", node2),
		running("m-c", MonitorApp, "10.32.2.6", node2), // a second one on node2
		{name: "m-d", namespace: ns, app: MonitorApp, phase: "Pending", hostIP: node3},
		{name: "m-e", namespace: ns, app: MonitorApp, phase: "Running", podIP: "10.32.3.9", hostIP: node3, deleting: true},
		running("c-a", CollectorApp, "10.32.3.7", node3),      // another app
		running("m-x", MonitorApp, "10.32.9.9", "192.0.2.99"), // on no listed node
	})
	p, err := Match(context.Background(), client, ns, MonitorApp)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{node1: "10.32.1.5", node2: "10.32.2.5"}
	if fmt.Sprint(p.PodByHost) != fmt.Sprint(want) || !slices.Equal(p.Missing, []string{node3}) || !p.Duplicates {
		t.Errorf("Match = %+v, want pods %v, node3 missing, duplicates", p, want)
	}

	api.set(nodes(node1, node2), []fakePod{running("m-a", MonitorApp, "10.32.1.5", node1), running("m-b", MonitorApp, "10.32.2.5", node2)})
	p, err = Match(context.Background(), client, ns, MonitorApp)
	if err != nil || len(p.Missing) != 0 || p.Duplicates || len(p.PodByHost) != 2 {
		t.Errorf("Match on one pod per node = %+v, %v", p, err)
	}
}

func TestMatchRefusesAmbiguity(t *testing.T) {
	api, client := newFakeAPIServer(t)
	for _, tc := range []struct {
		name  string
		nodes []fakeNode
		pods  []fakePod
		want  string
	}{
		{"node without address", []fakeNode{{name: "node1"}}, nil, "node node1 has 0 distinct InternalIP addresses, want exactly one"},
		{"node with two", []fakeNode{{name: "node1", ips: []string{node1, node2}}}, nil, "node node1 has 2 distinct InternalIP addresses, want exactly one"},
		{"one pod address twice", nodes(node1, node2), []fakePod{
			running("m-a", MonitorApp, "10.32.1.5", node1), running("m-b", MonitorApp, "10.32.1.5", node2),
		}, "pod address 10.32.1.5 is used on 192.0.2.1 and 192.0.2.2"},
	} {
		api.set(tc.nodes, tc.pods)
		_, err := Match(context.Background(), client, ns, MonitorApp)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: Match = %v, want %s", tc.name, err, tc.want)
		}
	}
	api.set(nodes(node1), nil)
	api.forbid()
	_, err := Match(context.Background(), client, ns, MonitorApp)
	if err == nil || !strings.Contains(err.Error(), "listing nodes: GET /api/v1/nodes: 403 Forbidden: pods is forbidden") {
		t.Errorf("Match without permission = %v, want the API's reason", err)
	}
}

func TestReflector(t *testing.T) {
	srv := httptest.NewServer(Reflector())
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/ping", 200, "PONG"},
		{"GET", "/", 404, "404 page not found\n"},
		{"GET", "/ping/x", 404, "404 page not found\n"},
		{"POST", "/ping", 404, "404 page not found\n"},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(body) != tc.body {
			t.Errorf("%s %s = %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
	}
}

func TestCheckPodAddress(t *testing.T) {
	network := netip.MustParsePrefix("10.32.0.0/12")
	ifaddrs := func(s ...string) []net.Addr {
		var out []net.Addr
		for _, a := range s {
			ip, n, _ := net.ParseCIDR(a)
			n.IP = ip
			out = append(out, n)
		}
		return out
	}
	for _, tc := range []struct {
		podIP string
		addrs []net.Addr
		want  string
	}{
		{"10.32.1.5", ifaddrs("127.0.0.1/8", "10.32.1.5/24"), ""},
		{"10.32.1.5", ifaddrs("127.0.0.1/8", "10.32.1.6/24"), "the pod's interfaces have [10.32.1.6] inside 10.32.0.0/12, want exactly its address 10.32.1.5"},
		{"10.32.1.5", ifaddrs("10.32.1.5/24", "10.33.0.1/16"), "the pod's interfaces have [10.32.1.5 10.33.0.1] inside 10.32.0.0/12, want exactly its address 10.32.1.5"},
		{"192.168.1.5", ifaddrs("192.168.1.5/24"), "the pod's address 192.168.1.5 is outside the pod network 10.32.0.0/12"},
		{"", nil, `the pod's address "": ParseAddr(""): unable to parse IP`},
	} {
		err := CheckPodAddress(tc.podIP, network, tc.addrs)
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("CheckPodAddress(%s, %v) = %v, want %q", tc.podIP, tc.addrs, err, tc.want)
		}
	}
}

// values gathers g and returns every sample as name{labels} -> value,
// histograms as their _count.
func values(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.Metric {
			k := f.GetName()
			if s := seriesKey(m); s != "" {
				k += "{" + s + "}"
			}
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				out[strings.Replace(k, f.GetName(), f.GetName()+"_count", 1)] = float64(m.Histogram.GetSampleCount())
			default:
				out[k] = m.Gauge.GetValue()
			}
		}
	}
	return out
}

func talk(from, to string) string {
	return fmt.Sprintf(`flannel_talk_check{ping_from_host=%q,ping_to_host=%q}`, from, to)
}

// TestMonitorPingsEveryMonitor: from node1, the monitors on node1 and
// node2 answer, node3's answers something else, node4 has none: talk
// checks 1, 1, 0, 0, two latencies observed, no duplicates.
func TestMonitorPingsEveryMonitor(t *testing.T) {
	api, client := newFakeAPIServer(t)
	wrong := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "PING") })
	port := serveAt(t, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, Reflector(), Reflector(), wrong)
	api.set(nodes(node1, node2, node3, node4), []fakePod{
		running("m-1", MonitorApp, "127.0.0.2", node1),
		running("m-2", MonitorApp, "127.0.0.3", node2),
		running("m-3", MonitorApp, "127.0.0.4", node3),
	})
	var logged []string
	m := NewMonitor(client, ns, node1, port, func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) })
	reg := prometheus.NewRegistry()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	if v := values(t, reg); len(v) != 0 {
		t.Errorf("before the first cycle the monitor reports %v", v)
	}
	before := time.Now().Unix()
	if m.Cycle(context.Background()) {
		t.Error("a cycle with node3's monitor answering wrong and none on node4 reported itself complete")
	}
	got := values(t, reg)
	want := map[string]float64{
		talk(node1, node1): 1, talk(node1, node2): 1, talk(node1, node3): 0, talk(node1, node4): 0,
		`flannel_talk_timing_count{ping_from_host="192.0.2.1",ping_to_host="192.0.2.1"}`: 1,
		`flannel_talk_timing_count{ping_from_host="192.0.2.1",ping_to_host="192.0.2.2"}`: 1,
		`flannel_monitor_check{ping_from_host="192.0.2.1"}`:                              1,
		`flannel_duplicate_check{ping_from_host="192.0.2.1"}`:                            1,
	}
	recency := `flannel_monitor_recency{ping_from_host="192.0.2.1"}`
	if r := got[recency]; r < float64(before) || r > float64(time.Now().Unix()) {
		t.Errorf("recency %v, want the cycle's start", r)
	}
	delete(got, recency)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after a cycle:\n got %v\nwant %v", got, want)
	}
	sort.Strings(logged)
	if len(logged) != 2 || !strings.HasPrefix(logged[0], "no monitor running on 192.0.2.4 to ping") ||
		!strings.Contains(logged[1], `ping 127.0.0.4 (monitor on 192.0.2.3): answered 200 OK "PING"`) {
		t.Errorf("logged %q, want node4's missing monitor and node3's wrong answer named", logged)
	}

	// A second monitor on node2: duplicates reported, talk still measured.
	api.set(nodes(node1, node2), []fakePod{
		running("m-1", MonitorApp, "127.0.0.2", node1),
		running("m-2", MonitorApp, "127.0.0.3", node2),
		running("m-9", MonitorApp, "127.0.0.9", node2),
	})
	m.Cycle(context.Background())
	got = values(t, reg)
	if got[`flannel_duplicate_check{ping_from_host="192.0.2.1"}`] != 0 || got[talk(node1, node2)] != 1 {
		t.Errorf("with two monitors on node2: %v", got)
	}
	if _, ok := got[talk(node1, node3)]; ok {
		t.Errorf("node3 left the cluster but its talk check remains: %v", got)
	}

	// The API refuses: no talk checks, both checks 0, still recent.
	api.forbid()
	m.Cycle(context.Background())
	got = values(t, reg)
	for k := range got {
		if strings.HasPrefix(k, "flannel_talk_check") {
			t.Errorf("after a failed search %s remains", k)
		}
	}
	if got[`flannel_monitor_check{ping_from_host="192.0.2.1"}`] != 0 || got[`flannel_duplicate_check{ping_from_host="192.0.2.1"}`] != 0 || got[recency] == 0 {
		t.Errorf("after a failed search: %v", got)
	}
}

// TestPingTimesOut: a monitor that does not answer within the timeout
// fails its pair, and the cycle does not wait for it.
func TestPingTimesOut(t *testing.T) {
	api, client := newFakeAPIServer(t)
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	})
	port := serveAt(t, []string{"127.0.0.2"}, slow)
	api.set(nodes(node1), []fakePod{running("m-1", MonitorApp, "127.0.0.2", node1)})
	m := NewMonitor(client, ns, node1, port, t.Logf)
	m.HTTP.Timeout = 100 * time.Millisecond
	reg := prometheus.NewRegistry()
	m.Register(reg)
	start := time.Now()
	m.Cycle(context.Background())
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a cycle with a stuck monitor took %v", d)
	}
	if v := values(t, reg)[talk(node1, node1)]; v != 0 {
		t.Errorf("talk to a stuck monitor = %v, want 0", v)
	}
}

// monitorServer runs a monitor of its own on the node with address self,
// after one cycle, serving /metrics as the monitor pod does.
func monitorServer(t *testing.T, client API, self string, port int) http.Handler {
	m := NewMonitor(client, ns, self, port, t.Logf)
	reg := prometheus.NewRegistry()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	m.Cycle(context.Background())
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// monitorPods serves a monitor pod on each loopback address as the pod
// does: /ping at once, and /metrics from a monitor on node hosts[i] once
// every pod answers pings and that monitor has run a cycle. Addresses past
// len(hosts) serve broken instead. It returns the port.
func monitorPods(t *testing.T, client API, addrs, hosts []string, broken http.Handler) int {
	t.Helper()
	metrics := make([]*lateHandler, len(hosts))
	var handlers []http.Handler
	for i := range addrs {
		if i >= len(hosts) {
			handlers = append(handlers, broken)
			continue
		}
		metrics[i] = &lateHandler{}
		mux := http.NewServeMux()
		mux.Handle("/ping", Reflector())
		mux.Handle("/metrics", metrics[i])
		handlers = append(handlers, mux)
	}
	port := serveAt(t, addrs, handlers...)
	for i, h := range hosts {
		metrics[i].set(monitorServer(t, client, h, port))
	}
	return port
}

// lateHandler serves 503 until its handler is set.
type lateHandler struct {
	mu sync.Mutex
	h  http.Handler
}

func (l *lateHandler) set(h http.Handler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.h = h
}

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	h := l.h
	l.mu.Unlock()
	if h == nil {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

// TestCollectorMergesMonitors: monitors on two nodes, each having pinged
// both; a third node's monitor answers nothing right, a fourth node has
// none. The collector serves one family per name holding every monitor's
// series, and its own checks.
func TestCollectorMergesMonitors(t *testing.T) {
	api, client := newFakeAPIServer(t)
	api.set(nodes(node1, node2, node3, node4), []fakePod{
		running("m-1", MonitorApp, "127.0.0.2", node1),
		running("m-2", MonitorApp, "127.0.0.3", node2),
		running("m-3", MonitorApp, "127.0.0.4", node3),
	})
	broken := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusInternalServerError) })
	port := monitorPods(t, client, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, []string{node1, node2}, broken)
	c := NewCollector(client, ns, port, t.Logf)
	g, err := c.Gatherer()
	if err != nil {
		t.Fatal(err)
	}
	if c.Cycle(context.Background()) {
		t.Error("a collection missing two monitors reported itself complete")
	}

	// What Prometheus reads: the served text, parsed.
	srv := httptest.NewServer(promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("the collector's exposition does not parse: %v\n%s", err, body)
	}
	if n := strings.Count(string(body), "# TYPE flannel_talk_check "); n != 1 {
		t.Errorf("flannel_talk_check declared %d times, want once:\n%s", n, body)
	}
	var pairs []string
	for _, m := range fams["flannel_talk_check"].GetMetric() {
		pairs = append(pairs, seriesKey(m)+"="+fmt.Sprint(m.Gauge.GetValue()))
	}
	wantPairs := []string{
		`ping_from_host="192.0.2.1",ping_to_host="192.0.2.1"=1`, `ping_from_host="192.0.2.1",ping_to_host="192.0.2.2"=1`,
		`ping_from_host="192.0.2.1",ping_to_host="192.0.2.3"=0`, `ping_from_host="192.0.2.1",ping_to_host="192.0.2.4"=0`,
		`ping_from_host="192.0.2.2",ping_to_host="192.0.2.1"=1`, `ping_from_host="192.0.2.2",ping_to_host="192.0.2.2"=1`,
		`ping_from_host="192.0.2.2",ping_to_host="192.0.2.3"=0`, `ping_from_host="192.0.2.2",ping_to_host="192.0.2.4"=0`,
	}
	if !slices.Equal(pairs, wantPairs) {
		t.Errorf("flannel_talk_check series:\n got %v\nwant %v", pairs, wantPairs)
	}
	if n := len(fams["flannel_talk_timing"].GetMetric()); n != 4 {
		t.Errorf("%d flannel_talk_timing series, want 4 (two monitors, two answering each)", n)
	}
	got := values(t, g)
	for k, want := range map[string]float64{
		`flannel_collect_check{monitor_hostip="192.0.2.1"}`: 1,
		`flannel_collect_check{monitor_hostip="192.0.2.2"}`: 1,
		`flannel_collect_check{monitor_hostip="192.0.2.3"}`: 0, // answers 500
		`flannel_collect_check{monitor_hostip="192.0.2.4"}`: 0, // no monitor
		`flannel_collect_enum_check`:                        1,
		`flannel_collect_enum_dup_check`:                    1,
		`flannel_monitor_check{ping_from_host="192.0.2.1"}`: 1,
		`flannel_monitor_check{ping_from_host="192.0.2.2"}`: 1,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}

	// The API refuses: no re-exported metrics, no collect checks, enum 0.
	api.forbid()
	c.Cycle(context.Background())
	got = values(t, g)
	want := map[string]float64{"flannel_collect_enum_check": 0, "flannel_collect_enum_dup_check": 0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after a failed search the collector serves %v, want %v", got, want)
	}
}

// TestCyclesReportComplete: with a monitor on each of two nodes, both
// answering, a monitor's and the collector's cycles report themselves
// complete (so daemon.EveryUntilSettled stops retrying soon); with one
// node's monitor gone, a monitor's does not.
func TestCyclesReportComplete(t *testing.T) {
	api, client := newFakeAPIServer(t)
	monitors := []fakePod{running("m-1", MonitorApp, "127.0.0.2", node1), running("m-2", MonitorApp, "127.0.0.3", node2)}
	api.set(nodes(node1, node2), monitors)
	port := monitorPods(t, client, []string{"127.0.0.2", "127.0.0.3"}, []string{node1, node2}, nil)
	m := NewMonitor(client, ns, node1, port, t.Logf)
	if !m.Cycle(context.Background()) {
		t.Error("a monitor reaching both nodes' monitors reported itself incomplete")
	}
	c := NewCollector(client, ns, port, t.Logf)
	if _, err := c.Gatherer(); err != nil {
		t.Fatal(err)
	}
	if !c.Cycle(context.Background()) {
		t.Error("a collector reading both monitors, each reaching both, reported itself incomplete")
	}

	api.set(nodes(node1, node2), monitors[:1])
	if m.Cycle(context.Background()) {
		t.Error("a monitor with no monitor on node2 to ping reported itself complete")
	}
}

func gauge(name string, value float64, labels ...string) *dto.MetricFamily {
	m := &dto.Metric{Gauge: &dto.Gauge{Value: proto.Float64(value)}}
	for i := 0; i < len(labels); i += 2 {
		m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(labels[i]), Value: proto.String(labels[i+1])})
	}
	return &dto.MetricFamily{Name: proto.String(name), Help: proto.String("h"), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{m}}
}

func TestMergeJoinsFamiliesAndDropsConflicts(t *testing.T) {
	counter := gauge("b", 1, "x", "3")
	counter.Type = dto.MetricType_COUNTER.Enum()
	counter.Metric[0].Counter, counter.Metric[0].Gauge = &dto.Counter{Value: proto.Float64(1)}, nil
	out, problems := Merge([][]*dto.MetricFamily{
		{gauge("b", 1, "x", "2"), gauge("a", 1, "x", "1")},
		nil, // a monitor that could not be read
		{gauge("b", 1, "x", "1"), gauge("b", 5, "x", "2")},
		{counter},
	})
	var got []string
	for _, f := range out {
		for _, m := range f.Metric {
			got = append(got, fmt.Sprintf("%s{%s}=%v", f.GetName(), seriesKey(m), m.Gauge.GetValue()))
		}
	}
	if want := []string{`a{x="1"}=1`, `b{x="1"}=1`, `b{x="2"}=1`}; !slices.Equal(got, want) {
		t.Errorf("Merge = %v, want %v", got, want)
	}
	if want := []string{`source 2: b{x="2"} repeated; dropped`, `source 3: b is a COUNTER, not a GAUGE as before; dropped`}; !slices.Equal(problems, want) {
		t.Errorf("problems %q, want %q", problems, want)
	}
}
