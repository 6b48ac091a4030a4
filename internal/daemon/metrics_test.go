package daemon_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"homeworld.dev/homeworld/internal/daemon"
)

func TestMetricsHandlerNeverCompresses(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "homeworld_test_total", Help: "A test counter."})
	reg.MustRegister(c)
	c.Inc()
	srv := httptest.NewServer(daemon.MetricsHandler(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	// As Prometheus asks; set by hand, Go's client leaves the body as sent.
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if enc := resp.Header.Get("Content-Encoding"); enc != "" {
		t.Errorf("Content-Encoding %q; want none", enc)
	}
	if !strings.Contains(string(body), "homeworld_test_total 1") {
		t.Errorf("body does not hold the counter:\n%q", body)
	}
}
