// Command auth-monitor checks the keysystem end to end from the supervisor
// and serves the results as Prometheus metrics. See internal/authmonitor.
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"homeworld.dev/homeworld/internal/authmonitor"
	"homeworld.dev/homeworld/internal/layout"
)

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: auth-monitor LISTEN KEYSERVER_ADDRESS")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := authmonitor.New(layout.Node{Root: "/"}, os.Args[2], log.Printf)
	if err != nil {
		log.Fatal(err)
	}
	go m.Run(ctx, 15*time.Second)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Addr: os.Args[1], Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
