package supervise

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"homeworld.dev/homeworld/internal/daemon"
)

type metrics struct {
	reg      *prometheus.Registry
	restarts *prometheus.CounterVec
}

// stateCollector exports node_systemd_unit_state exactly as the node
// exporter's systemd collector does: one series per state, 1 for the
// current one.
type stateCollector struct {
	s    *Supervisor
	desc *prometheus.Desc
}

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.s.Status() {
		for _, state := range allStates {
			v := 0.0
			if st.State == state {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, st.Unit, state, st.Type)
		}
	}
}

func newMetrics(s *Supervisor) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "node_systemd_service_restart_total",
			Help: "Service unit count of Restart triggers",
		}, []string{"name"}),
	}
	m.reg.MustRegister(m.restarts, stateCollector{s: s, desc: prometheus.NewDesc(
		"node_systemd_unit_state", "Systemd unit", []string{"name", "state", "type"}, nil)})
	for _, u := range s.units {
		m.restarts.WithLabelValues(u.spec.Unit)
	}
	return m
}

// Handler serves /metrics and /status (JSON list of Status).
func (s *Supervisor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", daemon.MetricsHandler(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.Status())
	})
	return mux
}

// ControlHandler serves POST /services/NAME/stop and /start. It belongs on a
// socket only root can reach, never on the network.
func (s *Supervisor) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		var err error
		switch r.PathValue("action") {
		case "stop":
			err = s.Stop(r.PathValue("name"))
		case "start":
			err = s.Start(r.PathValue("name"))
		default:
			http.Error(w, "action must be stop or start", http.StatusBadRequest)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
		}
	})
	return mux
}
