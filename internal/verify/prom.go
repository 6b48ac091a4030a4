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
	"math"
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

// Query evaluates an instant query now.
func (p *Prometheus) Query(ctx context.Context, q string) ([]Sample, error) {
	return p.QueryAt(ctx, q, time.Time{})
}

// QueryAt evaluates an instant query as of t (now if t is zero).
func (p *Prometheus) QueryAt(ctx context.Context, q string, t time.Time) ([]Sample, error) {
	var res []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	if err := p.get(ctx, q, t, "vector", &res); err != nil {
		return nil, err
	}
	out := make([]Sample, 0, len(res))
	for _, r := range res {
		v, err := value(r.Value[1])
		if err != nil {
			return nil, err
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// Point is one stored sample of a series.
type Point struct {
	T     time.Time
	Value float64
}

// Series is one element of a range vector: the samples stored in the range.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Stored evaluates a range selector (e.g. up{job="x"}[30s]) now: the
// samples Prometheus holds, each at the moment it was scraped.
func (p *Prometheus) Stored(ctx context.Context, q string) ([]Series, error) {
	var res []struct {
		Metric map[string]string `json:"metric"`
		Values [][2]any          `json:"values"`
	}
	if err := p.get(ctx, q, time.Time{}, "matrix", &res); err != nil {
		return nil, err
	}
	out := make([]Series, 0, len(res))
	for _, r := range res {
		s := Series{Labels: r.Metric}
		for _, pt := range r.Values {
			ts, ok := pt[0].(float64)
			if !ok {
				return nil, fmt.Errorf("prometheus: timestamp %v is not a number", pt[0])
			}
			v, err := value(pt[1])
			if err != nil {
				return nil, err
			}
			s.Points = append(s.Points, Point{time.UnixMilli(int64(math.Round(ts * 1000))), v})
		}
		out = append(out, s)
	}
	return out, nil
}

// ScrapeErrors returns the last error of each of job's targets whose last
// scrape failed, as Prometheus's targets API reports it.
func (p *Prometheus) ScrapeErrors(ctx context.Context, job string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Base+"/api/v1/targets?state=active", nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("prometheus unreachable: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			ActiveTargets []struct {
				ScrapePool string `json:"scrapePool"`
				Health     string `json:"health"`
				LastError  string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("prometheus: malformed list of targets: %w", err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("prometheus: list of targets: status %q", body.Status)
	}
	var out []string
	for _, t := range body.Data.ActiveTargets {
		if t.ScrapePool == job && t.LastError != "" {
			out = append(out, t.LastError)
		}
	}
	return out, nil
}

// get asks the query API and decodes a result of the type want into result.
func (p *Prometheus) get(ctx context.Context, q string, t time.Time, want string, result any) error {
	params := url.Values{"query": {q}}
	if !t.IsZero() {
		params.Set("time", strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Base+"/api/v1/query?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("prometheus unreachable: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status    string `json:"status"`
		Error     string `json:"error"`
		ErrorType string `json:"errorType"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("prometheus: malformed answer: %w", err)
	}
	if body.Status != "success" {
		return fmt.Errorf("prometheus: query %q: %s: %s", q, body.ErrorType, body.Error)
	}
	if body.Data.ResultType != want {
		return fmt.Errorf("prometheus: query %q gave a %s, want a %s", q, body.Data.ResultType, want)
	}
	if err := json.Unmarshal(body.Data.Result, result); err != nil {
		return fmt.Errorf("prometheus: malformed %s: %w", want, err)
	}
	return nil
}

// value parses a sample's value, which Prometheus sends as a string.
func value(raw any) (float64, error) {
	s, _ := raw.(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("prometheus: value %q: %w", s, err)
	}
	return v, nil
}

// byNode indexes samples by their node label.
func byNode(samples []Sample) map[string]Sample {
	out := map[string]Sample{}
	for _, s := range samples {
		out[s.Labels["node"]] = s
	}
	return out
}
