package setupqueue

import (
	"fmt"
	"io"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Status is the queue's state as spire verify reports it, read either
// from the queue folder (StatusOfDir) or from setup-queue's metrics
// (StatusOfMetrics); each knows part of it.
type Status struct {
	Pending int // items waiting
	// Items are the pending items' files, in queue order (from the
	// folder only).
	Items []string
	// Failing are the manifests whose latest attempt failed, sorted
	// (from the metrics only: the folder does not keep errors).
	Failing []string
	// Unreachable: setup-queue cannot reach the API server (metrics).
	Unreachable bool
}

// OK reports whether everything enqueued is applied.
func (s Status) OK() bool { return s.Pending == 0 && len(s.Failing) == 0 && !s.Unreachable }

func (s Status) String() string {
	if s.OK() {
		return "setup queue: empty"
	}
	var parts []string
	if s.Pending > 0 {
		p := fmt.Sprintf("%d item%s pending", s.Pending, map[bool]string{true: "s"}[s.Pending > 1])
		if len(s.Items) > 0 {
			p += " (" + strings.Join(s.Items, ", ") + ")"
		}
		parts = append(parts, p)
	}
	if len(s.Failing) > 0 {
		parts = append(parts, "failing: "+strings.Join(s.Failing, ", "))
	}
	if s.Unreachable {
		parts = append(parts, "setup-queue cannot reach the API server")
	}
	return "setup queue: " + strings.Join(parts, "; ")
}

// StatusOfDir reads the pending items from the queue folder.
func StatusOfDir(dir string) (Status, error) {
	items, err := Pending(dir)
	if err != nil {
		return Status{}, err
	}
	s := Status{Pending: len(items)}
	for _, it := range items {
		s.Items = append(s.Items, it.File)
	}
	return s, nil
}

// StatusOfMetrics reads setup-queue's /metrics text.
func StatusOfMetrics(r io.Reader) (Status, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return Status{}, fmt.Errorf("setup-queue's metrics: %w", err)
	}
	pending, ok := fams[MetricPending]
	if !ok || len(pending.GetMetric()) != 1 {
		return Status{}, fmt.Errorf("setup-queue's metrics have no %s", MetricPending)
	}
	s := Status{Pending: int(pending.GetMetric()[0].GetGauge().GetValue())}
	for _, m := range fams[MetricFailing].GetMetric() {
		if m.GetGauge().GetValue() == 1 {
			s.Failing = append(s.Failing, manifestLabel(m))
		}
	}
	sort.Strings(s.Failing)
	if u := fams[MetricUnreachable].GetMetric(); len(u) == 1 && u[0].GetGauge().GetValue() == 1 {
		s.Unreachable = true
	}
	return s, nil
}

func manifestLabel(m *dto.Metric) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == "manifest" {
			return l.GetValue()
		}
	}
	return ""
}
