// Package etcdexporter lets Prometheus see etcd without holding etcd client
// credentials: on each scrape it fetches etcd's metrics over mutual TLS with
// the master's own etcd-client certificate and re-exposes every family etcd
// serves, as the original's exporter did, plus etcd_version_info.
// cmd/etcd-metrics-exporter runs it on every master.
package etcdexporter

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/certfile"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

// Families are some of the families passed through, those Homeworld's
// alerts and verify read; a scrape lacking one of them means etcd is not
// the etcd expected.
var Families = []string{
	"etcd_server_has_leader",
	"etcd_server_is_leader",
	"etcd_server_leader_changes_seen_total",
	"etcd_server_proposals_committed_total",
	"etcd_server_proposals_failed_total",
	"etcd_mvcc_db_total_size_in_bytes",
}

// Exporter fetches from one etcd member.
type Exporter struct {
	base   string
	client *http.Client
}

// New builds an exporter for the etcd at base (https://IP:2379).
func New(base, caFile, certFile, keyFile string) (*Exporter, error) {
	pool, err := certfile.Pool(caFile)
	if err != nil {
		return nil, err
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		return nil, err
	}
	return &Exporter{base: base, client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12,
			// Read on each handshake: the keyclient renews the pair in place.
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				pair, err := tls.LoadX509KeyPair(certFile, keyFile)
				return &pair, err
			}},
	}}}, nil
}

func (e *Exporter) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := e.client.Do(req)
	if err == nil && resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		err = fmt.Errorf("%s%s: %s", e.base, path, resp.Status)
	}
	return resp, err
}

// ServeHTTP answers a scrape.
func (e *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	families, err := e.collect(r.Context())
	if err != nil {
		http.Error(w, "etcd unreachable: "+err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		enc.Encode(f)
	}
}

func (e *Exporter) collect(ctx context.Context) ([]*dto.MetricFamily, error) {
	resp, err := e.get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	all, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(all))
	out := make([]*dto.MetricFamily, 0, len(names)+1)
	for _, name := range names {
		out = append(out, asCounter(all[name]))
	}
	version := "unknown"
	if vr, err := e.get(ctx, "/version"); err == nil {
		var v struct {
			Server string `json:"etcdserver"`
		}
		json.NewDecoder(vr.Body).Decode(&v)
		vr.Body.Close()
		version = v.Server
	}
	out = append(out, &dto.MetricFamily{
		Name: proto.String("etcd_version_info"),
		Help: proto.String("Version of the etcd member, as a label."),
		Type: dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{
			Label: []*dto.LabelPair{{Name: proto.String("binary_version"), Value: proto.String(version)}},
			Gauge: &dto.Gauge{Value: proto.Float64(1)},
		}},
	})
	return out, nil
}

// asCounter re-types etcd's monotonic "_total" gauges as the counters they
// are, so the output passes Prometheus's metric lint.
func asCounter(f *dto.MetricFamily) *dto.MetricFamily {
	if f.GetType() != dto.MetricType_GAUGE || !strings.HasSuffix(f.GetName(), "_total") {
		return f
	}
	f.Type = dto.MetricType_COUNTER.Enum()
	for _, m := range f.Metric {
		m.Counter = &dto.Counter{Value: proto.Float64(m.GetGauge().GetValue())}
		m.Gauge = nil
	}
	return f
}
