package flannelmonitor

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The apps the monitors and the collector find each other by (pod label
// app=...).
const (
	MonitorApp   = "flannel-monitor"
	CollectorApp = "flannel-monitor-collector"
)

// PingTimeout bounds each ping and each read of a monitor.
const PingTimeout = time.Second

// TalkBuckets are flannel_talk_timing's buckets, in seconds.
var TalkBuckets = []float64{0.1, 0.2, 0.5, 1, 2, 5, 10}

var (
	talkCheckDesc = prometheus.NewDesc("flannel_talk_check",
		"1 if the monitor's pod on ping_from_host got PONG from the monitor on ping_to_host in the last cycle.",
		[]string{"ping_from_host", "ping_to_host"}, nil)
	monitorCheckDesc = prometheus.NewDesc("flannel_monitor_check",
		"1 if the monitor could find the monitors of every node in the last cycle.", []string{"ping_from_host"}, nil)
	duplicateCheckDesc = prometheus.NewDesc("flannel_duplicate_check",
		"1 if no node runs more than one monitor.", []string{"ping_from_host"}, nil)
	monitorRecencyDesc = prometheus.NewDesc("flannel_monitor_recency",
		"Unix time at the start of the monitor's last cycle.", []string{"ping_from_host"}, nil)
)

// Monitor pings every node's monitor (its own too) from its own node.
type Monitor struct {
	API       API
	Namespace string
	Self      string // this pod's node address: ping_from_host
	Port      int    // where monitors answer pings
	HTTP      *http.Client
	Logf      func(format string, args ...any)

	timing *prometheus.HistogramVec

	mu   sync.Mutex
	last *talkResult // nil before the first cycle
}

type talkResult struct {
	start      time.Time
	found      bool               // the monitors were matched to nodes
	duplicates bool               // some node runs two
	talk       map[string]float64 // ping_to_host -> 1/0
}

// NewMonitor is a monitor on the node with address self.
func NewMonitor(api API, namespace, self string, port int, logf func(string, ...any)) *Monitor {
	return &Monitor{API: api, Namespace: namespace, Self: self, Port: port, Logf: logf,
		HTTP: &http.Client{Timeout: PingTimeout},
		timing: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flannel_talk_timing",
			Help:    "Seconds a successful ping from ping_from_host to the monitor on ping_to_host took.",
			Buckets: TalkBuckets,
		}, []string{"ping_from_host", "ping_to_host"})}
}

// Register adds the monitor's metrics to reg.
func (m *Monitor) Register(reg prometheus.Registerer) error {
	if err := reg.Register(m.timing); err != nil {
		return err
	}
	return reg.Register(m)
}

// Cycle finds the monitors and pings each once, in parallel. It reports
// whether the result was complete: a monitor on every node, each
// answering (daemon.EveryUntilSettled retries soon until it is).
func (m *Monitor) Cycle(ctx context.Context) bool {
	r := &talkResult{start: time.Now(), talk: map[string]float64{}}
	p, err := Match(ctx, m.API, m.Namespace, MonitorApp)
	if err != nil {
		m.Logf("finding the monitors: %v", err)
	} else {
		r.found, r.duplicates = true, p.Duplicates
		for _, h := range p.Missing {
			// Reported like a failed ping, so said in the log as one is.
			m.Logf("no monitor running on %s to ping (its pod is missing, restarting or without an address)", h)
			r.talk[h] = 0
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for host, pod := range p.PodByHost {
			wg.Go(func() {
				took, err := m.ping(ctx, pod)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					m.Logf("ping %s (monitor on %s): %v", pod, host, err)
					r.talk[host] = 0
					return
				}
				r.talk[host] = 1
				m.timing.WithLabelValues(m.Self, host).Observe(took.Seconds())
			})
		}
		wg.Wait()
	}
	m.mu.Lock()
	m.last = r
	m.mu.Unlock()
	return r.found && !r.duplicates && len(r.talk) > 0 && allOne(r.talk)
}

func allOne(checks map[string]float64) bool {
	for _, v := range checks {
		if v != 1 {
			return false
		}
	}
	return true
}

// ping asks the monitor at pod for PONG.
func (m *Monitor) ping(ctx context.Context, pod string) (time.Duration, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(pod, strconv.Itoa(m.Port))+"/ping", nil)
	if err != nil {
		return 0, err
	}
	resp, err := m.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK || string(body) != Pong {
		return 0, &unexpectedAnswer{resp.Status, string(body)}
	}
	return time.Since(start), nil
}

type unexpectedAnswer struct{ status, body string }

func (e *unexpectedAnswer) Error() string {
	return "answered " + e.status + " " + strconv.Quote(e.body)
}

// Describe implements prometheus.Collector.
func (m *Monitor) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{talkCheckDesc, monitorCheckDesc, duplicateCheckDesc, monitorRecencyDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the last cycle's results, all
// at once, so a scrape never sees half a cycle. A failed search drops
// every talk series (nothing was measured) and zeroes both checks.
func (m *Monitor) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	r := m.last
	m.mu.Unlock()
	if r == nil {
		return
	}
	for to, v := range r.talk {
		ch <- prometheus.MustNewConstMetric(talkCheckDesc, prometheus.GaugeValue, v, m.Self, to)
	}
	ch <- prometheus.MustNewConstMetric(monitorCheckDesc, prometheus.GaugeValue, b2f(r.found), m.Self)
	ch <- prometheus.MustNewConstMetric(duplicateCheckDesc, prometheus.GaugeValue, b2f(r.found && !r.duplicates), m.Self)
	ch <- prometheus.MustNewConstMetric(monitorRecencyDesc, prometheus.GaugeValue, float64(r.start.Unix()), m.Self)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
