package dnsmonitor

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// dnsServer is a small authoritative DNS server on loopback UDP: A
// queries for a name in its table get those addresses, names it does not
// know NXDOMAIN, names in silent no answer at all; other types (AAAA) an
// empty answer. The monitor's pure-Go resolver asks it as a pod's asks
// the cluster DNS.
type dnsServer struct {
	addr   string
	mu     sync.Mutex
	table  map[string][]netip.Addr
	silent map[string]bool
}

func newDNSServer(t *testing.T) *dnsServer {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	s := &dnsServer{addr: pc.LocalAddr().String(), table: map[string][]netip.Addr{}, silent: map[string]bool{}}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := s.answer(buf[:n]); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	return s
}

// quiet makes the server ignore queries for name.
func (s *dnsServer) quiet(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silent[name] = true
}

func (s *dnsServer) set(name string, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range addrs {
		s.table[name] = append(s.table[name], netip.MustParseAddr(a))
	}
}

// answer builds the response to one query (RFC 1035 §4.1).
func (s *dnsServer) answer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	// The question: labels, then type and class.
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, strings.ToLower(string(q[i+1:i+1+l])))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1:])
	name := strings.Join(labels, ".")
	s.mu.Lock()
	addrs, known := s.table[name]
	silent := s.silent[name]
	s.mu.Unlock()
	if silent {
		return nil
	}
	flags := uint16(0x8580) // response, authoritative, recursion desired and available
	var answers []netip.Addr
	switch {
	case !known:
		flags |= 3 // NXDOMAIN
	case qtype == 1: // A
		answers = addrs
	}
	out := binary.BigEndian.AppendUint16(nil, binary.BigEndian.Uint16(q))
	out = binary.BigEndian.AppendUint16(out, flags)
	out = binary.BigEndian.AppendUint16(out, 1)
	out = binary.BigEndian.AppendUint16(out, uint16(len(answers)))
	out = append(out, 0, 0, 0, 0)
	out = append(out, question...)
	for _, a := range answers {
		out = append(out, 0xc0, 12)          // the question's name
		out = append(out, 0, 1, 0, 1)        // A, IN
		out = append(out, 0, 0, 0, 30, 0, 4) // TTL 30, 4 bytes
		out = append(out, a.AsSlice()...)
	}
	return out
}

func (s *dnsServer) resolver() Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.addr)
	}}
}

func TestParseExpectations(t *testing.T) {
	got, err := ParseExpectations([]string{"Kubernetes.default.svc.cluster.local.=172.28.0.1", "b.example=10.0.0.2"})
	if err != nil || fmt.Sprint(got) != "[kubernetes.default.svc.cluster.local=172.28.0.1 b.example=10.0.0.2]" {
		t.Errorf("ParseExpectations = %v, %v", got, err)
	}
	for _, tc := range []struct {
		pairs []string
		want  string
	}{
		{[]string{"a.example"}, `"a.example" is not HOSTNAME=IP`},
		{[]string{"=10.0.0.1"}, `"=10.0.0.1" is not HOSTNAME=IP`},
		{[]string{"a.example=10.0.0"}, `"a.example=10.0.0": ParseAddr("10.0.0"): IPv4 address too short`},
		{[]string{"a.example=10.0.0.1", "A.example.=10.0.0.2"}, "a.example is given twice"},
	} {
		if _, err := ParseExpectations(tc.pairs); err == nil || err.Error() != tc.want {
			t.Errorf("ParseExpectations(%q) = %v, want %s", tc.pairs, err, tc.want)
		}
	}
}

func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			k := f.GetName()
			if f.GetType() == dto.MetricType_HISTOGRAM {
				k += "_count"
			}
			if len(labels) > 0 {
				k += "{" + strings.Join(labels, ",") + "}"
			}
			if f.GetType() == dto.MetricType_HISTOGRAM {
				out[k] = float64(m.Histogram.GetSampleCount())
			} else {
				out[k] = m.Gauge.GetValue()
			}
		}
	}
	return out
}

// TestSuccessIsExactlyTheExpectedAddress: one address, the expected one,
// passes; a different one, two, none (NXDOMAIN) or no answer in time
// fail. Only successes are timed; the upstream name has its own check.
func TestSuccessIsExactlyTheExpectedAddress(t *testing.T) {
	s := newDNSServer(t)
	s.set("good.cluster.test", "10.96.0.1")
	s.set("wrong.cluster.test", "10.96.0.9")
	s.set("two.cluster.test", "10.96.0.2", "10.96.0.3")
	s.set("upstream.example", "198.51.100.53")
	s.quiet("slow.cluster.test")
	exp, err := ParseExpectations([]string{
		"good.cluster.test=10.96.0.1", "wrong.cluster.test=10.96.0.1", "two.cluster.test=10.96.0.2",
		"missing.cluster.test=10.96.0.4", "slow.cluster.test=10.96.0.5",
	})
	if err != nil {
		t.Fatal(err)
	}
	up, _ := ParseExpectations([]string{"upstream.example=198.51.100.53"})
	var mu sync.Mutex
	var logged []string
	m := New(exp, up, s.resolver(), func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(f, a...))
	})
	reg := prometheus.NewRegistry()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	if got := gather(t, reg); len(got) != 0 {
		t.Errorf("before the first cycle: %v", got)
	}
	before := time.Now().Unix()
	start := time.Now()
	m.Cycle(context.Background())
	if d := time.Since(start); d > LookupTimeout+time.Second {
		t.Errorf("a cycle took %v: lookups must run in parallel, each at most %v", d, LookupTimeout)
	}
	got := gather(t, reg)
	if r := got["dns_lookup_recency"]; r < float64(before) || r > float64(time.Now().Unix()) {
		t.Errorf("dns_lookup_recency %v, want the cycle's start", r)
	}
	delete(got, "dns_lookup_recency")
	want := map[string]float64{
		`dns_lookup_internal_check{hostname="good.cluster.test"}`:        1,
		`dns_lookup_internal_check{hostname="wrong.cluster.test"}`:       0,
		`dns_lookup_internal_check{hostname="two.cluster.test"}`:         0,
		`dns_lookup_internal_check{hostname="missing.cluster.test"}`:     0,
		`dns_lookup_internal_check{hostname="slow.cluster.test"}`:        0,
		`dns_lookup_internal_timing_count{hostname="good.cluster.test"}`: 1,
		`dns_lookup_upstream_check{hostname="upstream.example"}`:         1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after a cycle:\n got %v\nwant %v", got, want)
	}
	slices.Sort(logged)
	for i, w := range []string{
		"missing.cluster.test: lookup missing.cluster.test.", // NXDOMAIN
		"slow.cluster.test: lookup slow.cluster.test.",
		"two.cluster.test: resolved to [10.96.0.2 10.96.0.3], want exactly 10.96.0.2",
		"wrong.cluster.test: resolved to [10.96.0.9], want exactly 10.96.0.1",
	} {
		if i >= len(logged) || !strings.HasPrefix(logged[i], w) {
			t.Errorf("log line %d = %q, want it to start %q (all: %q)", i, logged, w, logged)
			break
		}
	}

	// Only names that resolve as expected: the cycle reports itself
	// complete (daemon.EveryUntilSettled then waits the interval).
	good := New(exp[:1], up, s.resolver(), t.Logf)
	if !good.Cycle(context.Background()) {
		t.Error("a cycle where every lookup succeeded reported itself incomplete")
	}

	// The upstream stops answering: only its check fails.
	s.quiet("upstream.example")
	if m.Cycle(context.Background()) || good.Cycle(context.Background()) {
		t.Error("a cycle with failed lookups reported itself complete")
	}
	got = gather(t, reg)
	if got[`dns_lookup_upstream_check{hostname="upstream.example"}`] != 0 || got[`dns_lookup_internal_check{hostname="good.cluster.test"}`] != 1 {
		t.Errorf("with the upstream silent: %v", got)
	}
}

// TestCommandLineRefusesBadPairs: the pairs are checked before anything
// starts.
func TestCommandLineRefusesBadPairs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "requires at least 1 arg(s)"},
		{[]string{"a.example=10.0.0.1", "a.example=10.0.0.1"}, "a.example is given twice"},
		{[]string{"--upstream-check", "up.example", "a.example=10.0.0.1"}, `"up.example" is not HOSTNAME=IP`},
	} {
		c := Command()
		c.SetArgs(tc.args)
		if err := c.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("dns-monitor %q = %v, want %s", tc.args, err, tc.want)
		}
	}
}
