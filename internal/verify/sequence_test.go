package verify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/seq"
	"homeworld.dev/homeworld/internal/services"
)

func names(steps []seq.Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return out
}

func TestSequences(t *testing.T) {
	cfg, _, err := config.Parse("setup.yaml", config.Template)
	if err != nil {
		t.Fatal(err)
	}
	p := PrometheusFor(cfg, "")
	if want := services.Prometheus.URL(cfg.Supervisor().IP, ""); p.Base != want {
		t.Errorf("default Prometheus %s, want %s", p.Base, want)
	}
	if p := PrometheusFor(cfg, "http://prom.example/"); p.Base != "http://prom.example" {
		t.Errorf("Prometheus asked for: %s", p.Base)
	}

	first := "Prometheus answers on the supervisor"
	cluster := names(ClusterSequence(cfg, p))
	if want := []string{first, "verify online", "verify keysystem", "verify services", "verify etcd", "verify registry", "verify kubernetes", "verify kubernetes-init", "verify pull", "verify flannel", "verify dns"}; !slices.Equal(cluster, want) {
		t.Errorf("cluster sequence %q, want %q", cluster, want)
	}
	sup := names(SupervisorSequence(cfg, p))
	if want := []string{first, "verify online", "verify keysystem", "verify keygateway", "verify services", "verify registry"}; !slices.Equal(sup, want) {
		t.Errorf("supervisor sequence %q, want %q", sup, want)
	}
	for _, s := range append(ClusterSequence(cfg, p), SupervisorSequence(cfg, p)...) {
		if s.Retry != Poll {
			t.Errorf("step %q asks again after %v, want %v (it only queries Prometheus)", s.Name, s.Retry, Poll)
		}
	}
}

// The supervisor sequence asks about the supervisor alone: against a
// Prometheus that knows no node, its online step names only the supervisor.
func TestSupervisorSequenceAsksAboutSupervisorOnly(t *testing.T) {
	cfg, _, err := config.Parse("setup.yaml", config.Template)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	}))
	defer srv.Close()
	err = SupervisorSequence(cfg, PrometheusFor(cfg, srv.URL))[1].Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "node "+cfg.Supervisor().Hostname+" ") {
		t.Fatalf("online step = %v, want the supervisor named", err)
	}
	for _, n := range cfg.Nodes {
		if n.Kind != config.KindSupervisor && strings.Contains(err.Error(), "node "+n.Hostname+" ") {
			t.Errorf("the supervisor sequence asked about %s: %v", n.Hostname, err)
		}
	}
}
