// Package dnsmonitor proves the cluster DNS from inside the pod network:
// each cycle it resolves names that must exist (the API's and the DNS's
// own Service names) through the pod's resolver and checks that each
// gives exactly its Service address (dns_lookup_internal_check, _timing,
// dns_lookup_recency, as the original Homeworld's), and optionally one
// name outside the cluster, which only forwarding to the upstream
// resolvers can answer (dns_lookup_upstream_check). cmd/dns-monitor runs
// it in a pod; spire deploy dns-monitor deploys it from Manifest.
package dnsmonitor

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LookupTimeout bounds each lookup.
const LookupTimeout = time.Second

// TimingBuckets are dns_lookup_internal_timing's buckets, in seconds.
var TimingBuckets = []float64{0.1, 0.2, 0.5, 1, 2, 5, 10}

// Expectation is a name and the one address it must resolve to.
type Expectation struct {
	Name string
	Addr netip.Addr
}

func (e Expectation) String() string { return e.Name + "=" + e.Addr.String() }

// ParseExpectations reads NAME=IP pairs; a malformed pair or a name given
// twice is an error, since the monitor would report nonsense.
func ParseExpectations(pairs []string) ([]Expectation, error) {
	seen := map[string]bool{}
	var out []Expectation
	for _, p := range pairs {
		name, ip, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%q is not HOSTNAME=IP", p)
		}
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", p, err)
		}
		name = strings.TrimSuffix(strings.ToLower(name), ".")
		if seen[name] {
			return nil, fmt.Errorf("%s is given twice", name)
		}
		seen[name] = true
		out = append(out, Expectation{name, addr})
	}
	return out, nil
}

// Resolver is how names are resolved: the pure-Go resolver, reading the
// pod's resolv.conf, in a pod.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Monitor resolves its names every cycle.
type Monitor struct {
	Internal []Expectation
	Upstream []Expectation // names outside the cluster; may be empty
	Resolver Resolver
	Logf     func(format string, args ...any)

	timing *prometheus.HistogramVec

	mu   sync.Mutex
	last *result
}

type result struct {
	start    time.Time
	internal map[string]float64
	upstream map[string]float64
}

var (
	internalCheckDesc = prometheus.NewDesc("dns_lookup_internal_check",
		"1 if hostname, a name inside the cluster, resolved to exactly its expected address in the last cycle.", []string{"hostname"}, nil)
	upstreamCheckDesc = prometheus.NewDesc("dns_lookup_upstream_check",
		"1 if hostname, a name outside the cluster, resolved to exactly its expected address (through the cluster DNS's forwarding) in the last cycle.", []string{"hostname"}, nil)
	recencyDesc = prometheus.NewDesc("dns_lookup_recency",
		"Unix time at the start of the last completed cycle.", nil, nil)
)

// New is a monitor of the given names using r.
func New(internal, upstream []Expectation, r Resolver, logf func(string, ...any)) *Monitor {
	return &Monitor{Internal: internal, Upstream: upstream, Resolver: r, Logf: logf,
		timing: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dns_lookup_internal_timing",
			Help:    "Seconds a successful lookup of hostname took.",
			Buckets: TimingBuckets,
		}, []string{"hostname"})}
}

// PodResolver is the pure-Go resolver, as a pod's programs resolve.
func PodResolver() Resolver { return &net.Resolver{PreferGo: true} }

// Register adds the monitor's metrics to reg.
func (m *Monitor) Register(reg prometheus.Registerer) error {
	if err := reg.Register(m.timing); err != nil {
		return err
	}
	return reg.Register(m)
}

// Cycle looks every name up once, in parallel, and reports whether every
// lookup succeeded (daemon.EveryUntilSettled retries soon until they do).
func (m *Monitor) Cycle(ctx context.Context) bool {
	r := &result{start: time.Now(), internal: map[string]float64{}, upstream: map[string]float64{}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, set := range []struct {
		exp  []Expectation
		into map[string]float64
		time bool
	}{{m.Internal, r.internal, true}, {m.Upstream, r.upstream, false}} {
		for _, e := range set.exp {
			wg.Go(func() {
				took, err := m.lookup(ctx, e)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					m.Logf("%s: %v", e.Name, err)
					set.into[e.Name] = 0
					return
				}
				set.into[e.Name] = 1
				if set.time {
					m.timing.WithLabelValues(e.Name).Observe(took.Seconds())
				}
			})
		}
	}
	wg.Wait()
	m.mu.Lock()
	m.last = r
	m.mu.Unlock()
	for _, set := range []map[string]float64{r.internal, r.upstream} {
		for _, v := range set {
			if v != 1 {
				return false
			}
		}
	}
	return true
}

// lookup resolves e's name; success is exactly one address, e's.
func (m *Monitor) lookup(ctx context.Context, e Expectation) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	start := time.Now()
	// Rooted: the names are complete, and the pod's search domains would
	// only add failing queries to the time measured.
	addrs, err := m.Resolver.LookupNetIP(ctx, "ip", e.Name+".")
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	if len(addrs) != 1 || addrs[0] != e.Addr {
		sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
		return 0, fmt.Errorf("resolved to %v, want exactly %s", addrs, e.Addr)
	}
	return took, nil
}

// Describe implements prometheus.Collector.
func (m *Monitor) Describe(ch chan<- *prometheus.Desc) {
	ch <- internalCheckDesc
	ch <- upstreamCheckDesc
	ch <- recencyDesc
}

// Collect implements prometheus.Collector: the last cycle's results.
func (m *Monitor) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	r := m.last
	m.mu.Unlock()
	if r == nil {
		return
	}
	for name, v := range r.internal {
		ch <- prometheus.MustNewConstMetric(internalCheckDesc, prometheus.GaugeValue, v, name)
	}
	for name, v := range r.upstream {
		ch <- prometheus.MustNewConstMetric(upstreamCheckDesc, prometheus.GaugeValue, v, name)
	}
	ch <- prometheus.MustNewConstMetric(recencyDesc, prometheus.GaugeValue, float64(r.start.Unix()))
}
