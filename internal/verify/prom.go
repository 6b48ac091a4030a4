// Package verify holds the checks that say whether a cluster works: each
// asks the supervisor's Prometheus a question derived from setup.yaml and
// the service map, and fails with a message naming the node and the
// component. The same checks watch a live cluster and prove a fresh one.
// spire verify and spire seq run them.
package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Prometheus queries one Prometheus server.
type Prometheus struct {
	Base   string // http://host:port
	client *http.Client
}

// NewPrometheus returns a client for the server at base.
func NewPrometheus(base string) *Prometheus {
	return &Prometheus{Base: base, client: &http.Client{Timeout: 10 * time.Second}}
}

// Sample is one element of an instant vector.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query evaluates an instant query.
func (p *Prometheus) Query(ctx context.Context, q string) ([]Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Base+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("prometheus unreachable: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status    string `json:"status"`
		Error     string `json:"error"`
		ErrorType string `json:"errorType"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("prometheus: malformed answer: %w", err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("prometheus: query %q: %s: %s", q, body.ErrorType, body.Error)
	}
	if body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("prometheus: query %q gave a %s, want a vector", q, body.Data.ResultType)
	}
	out := make([]Sample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("prometheus: value %q: %w", s, err)
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// byNode indexes samples by their node label.
func byNode(samples []Sample) map[string]Sample {
	out := map[string]Sample{}
	for _, s := range samples {
		out[s.Labels["node"]] = s
	}
	return out
}
