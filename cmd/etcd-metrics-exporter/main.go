// Command etcd-metrics-exporter serves a master's etcd metrics without
// etcd credentials. See internal/etcdexporter.
package main

import (
	"log"
	"net/http"
	"os"
	"time"

	"homeworld.dev/homeworld/internal/etcdexporter"
)

func main() {
	if len(os.Args) != 6 {
		log.Fatal("usage: etcd-metrics-exporter LISTEN ETCD_URL CA_FILE CERT_FILE KEY_FILE")
	}
	e, err := etcdexporter.New(os.Args[2], os.Args[3], os.Args[4], os.Args[5])
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", e)
	srv := &http.Server{Addr: os.Args[1], Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
