// Command kube-state-exporter serves Kubernetes object state as metrics
// for the supervisor's Prometheus. See internal/kubestate.
package main

import (
	"log"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"homeworld.dev/homeworld/internal/kubestate"
)

func main() {
	if len(os.Args) < 6 {
		log.Fatal("usage: kube-state-exporter LISTEN CA_FILE CERT_FILE KEY_FILE APISERVER_URL...")
	}
	e, err := kubestate.New(os.Args[5:], os.Args[2], os.Args[3], os.Args[4])
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Addr: os.Args[1], Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
