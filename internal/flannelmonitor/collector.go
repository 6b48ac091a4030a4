package flannelmonitor

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var (
	collectCheckDesc = prometheus.NewDesc("flannel_collect_check",
		"1 if the collector read the metrics of the monitor on monitor_hostip in the last cycle.", []string{"monitor_hostip"}, nil)
	enumCheckDesc = prometheus.NewDesc("flannel_collect_enum_check",
		"1 if the collector could find the monitors in the last cycle.", nil, nil)
	enumDupCheckDesc = prometheus.NewDesc("flannel_collect_enum_dup_check",
		"1 if no node runs more than one monitor.", nil, nil)
)

// Collector reads every monitor's metrics and serves them with its own.
type Collector struct {
	API       API
	Namespace string
	Port      int // where monitors serve /metrics
	HTTP      *http.Client
	Logf      func(format string, args ...any)

	mu   sync.Mutex
	last *collectResult // nil before the first cycle
}

type collectResult struct {
	found      bool
	duplicates bool
	collected  map[string]float64 // monitor_hostip -> 1/0
	families   []*dto.MetricFamily
}

// NewCollector is a collector of the monitors in namespace.
func NewCollector(api API, namespace string, port int, logf func(string, ...any)) *Collector {
	return &Collector{API: api, Namespace: namespace, Port: port, Logf: logf, HTTP: &http.Client{Timeout: PingTimeout}}
}

// Cycle finds the monitors and reads each once, in parallel. It reports
// whether the result was complete: every node's monitor read, and each
// reporting every node's monitor answering (daemon.EveryUntilSettled
// retries soon until it is).
func (c *Collector) Cycle(ctx context.Context) bool {
	r := &collectResult{collected: map[string]float64{}}
	p, err := Match(ctx, c.API, c.Namespace, MonitorApp)
	if err != nil {
		c.Logf("finding the monitors: %v", err)
	} else {
		r.found, r.duplicates = true, p.Duplicates
		for _, h := range p.Missing {
			r.collected[h] = 0
		}
		hosts := make([]string, 0, len(p.PodByHost))
		for h := range p.PodByHost {
			hosts = append(hosts, h)
		}
		sort.Strings(hosts) // merge in a fixed order: the first of a repeated series wins
		read := make([][]*dto.MetricFamily, len(hosts))
		var wg sync.WaitGroup
		for i, host := range hosts {
			wg.Go(func() {
				fams, err := c.read(ctx, p.PodByHost[host])
				if err != nil {
					c.Logf("reading the monitor on %s (%s): %v", host, p.PodByHost[host], err)
					return
				}
				read[i] = fams
			})
		}
		wg.Wait()
		for i, h := range hosts {
			r.collected[h] = b2f(read[i] != nil)
		}
		var problems []string
		r.families, problems = Merge(read)
		for _, pr := range problems {
			c.Logf("merging: %s", pr)
		}
	}
	c.mu.Lock()
	c.last = r
	c.mu.Unlock()
	return r.found && !r.duplicates && len(r.collected) > 0 && allOne(r.collected) && everyPairTalks(r.families, len(r.collected))
}

// everyPairTalks reports whether the monitors' merged results hold a
// flannel_talk_check of 1 for each of the nodes² pairs and every monitor
// found the others.
func everyPairTalks(fams []*dto.MetricFamily, nodes int) bool {
	talks, found := 0, 0
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "flannel_talk_check":
				if m.GetGauge().GetValue() != 1 {
					return false
				}
				talks++
			case "flannel_monitor_check":
				if m.GetGauge().GetValue() != 1 {
					return false
				}
				found++
			}
		}
	}
	return talks == nodes*nodes && found == nodes
}

// read fetches and parses a monitor's metrics in the text format.
func (c *Collector) read(ctx context.Context, pod string) ([]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(pod, strconv.Itoa(c.Port))+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	byName, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, f := range byName {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

// Merge joins the families read from several monitors (nil for one that
// could not be read) into one set: families of one name become one, so
// every monitor's flannel_talk_check is a series of one family, as
// Prometheus expects. A series (same labels) already seen is dropped, and
// so is a family whose type differs from the first of its name; each drop
// is a problem reported. The result is sorted by name, its series by
// labels.
func Merge(sources [][]*dto.MetricFamily) ([]*dto.MetricFamily, []string) {
	byName := map[string]*dto.MetricFamily{}
	seen := map[string]map[string]bool{} // family -> series keys
	var problems []string
	for i, src := range sources {
		for _, f := range src {
			name := f.GetName()
			merged, ok := byName[name]
			if !ok {
				merged = &dto.MetricFamily{Name: f.Name, Help: f.Help, Type: f.Type, Unit: f.Unit}
				byName[name] = merged
				seen[name] = map[string]bool{}
			}
			if merged.GetType() != f.GetType() {
				problems = append(problems, fmt.Sprintf("source %d: %s is a %s, not a %s as before; dropped", i, name, f.GetType(), merged.GetType()))
				continue
			}
			for _, m := range f.Metric {
				k := seriesKey(m)
				if seen[name][k] {
					problems = append(problems, fmt.Sprintf("source %d: %s{%s} repeated; dropped", i, name, k))
					continue
				}
				seen[name][k] = true
				merged.Metric = append(merged.Metric, m)
			}
		}
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, f := range byName {
		sort.Slice(f.Metric, func(i, j int) bool { return seriesKey(f.Metric[i]) < seriesKey(f.Metric[j]) })
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, problems
}

// seriesKey is a series' labels, sorted, as name="value" pairs.
func seriesKey(m *dto.Metric) string {
	pairs := make([]string, 0, len(m.Label))
	for _, l := range m.Label {
		pairs = append(pairs, l.GetName()+"="+strconv.Quote(l.GetValue()))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{collectCheckDesc, enumCheckDesc, enumDupCheckDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the collector's own checks of
// the last cycle. A failed search drops every collect_check series and
// zeroes both enum checks.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	r := c.last
	c.mu.Unlock()
	if r == nil {
		return
	}
	for h, v := range r.collected {
		ch <- prometheus.MustNewConstMetric(collectCheckDesc, prometheus.GaugeValue, v, h)
	}
	ch <- prometheus.MustNewConstMetric(enumCheckDesc, prometheus.GaugeValue, b2f(r.found))
	ch <- prometheus.MustNewConstMetric(enumDupCheckDesc, prometheus.GaugeValue, b2f(r.found && !r.duplicates))
}

// Reexported is the monitors' metrics of the last cycle, as a Gatherer
// beside the collector's own registry.
func (c *Collector) Reexported() ([]*dto.MetricFamily, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		return nil, nil
	}
	return c.last.families, nil
}

// Gatherer is what the collector serves: its own checks, then every
// monitor's metrics.
func (c *Collector) Gatherer() (prometheus.Gatherer, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	return prometheus.Gatherers{reg, prometheus.GathererFunc(c.Reexported)}, nil
}
