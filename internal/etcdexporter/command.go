package etcdexporter

import (
	"net/http"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/version"
)

// Command is etcd-metrics-exporter's command line.
func Command() *cobra.Command {
	var listen, etcd, ca, cert, key string
	c := &cobra.Command{
		Use:   "etcd-metrics-exporter --listen ADDR --etcd URL --ca FILE --cert FILE --key FILE",
		Short: "Serve a master's etcd metrics without etcd credentials (runs on masters)",
		Long: `etcd-metrics-exporter lets Prometheus see etcd's health without holding etcd
credentials: on each scrape of --listen/metrics it fetches the metrics of the
etcd at --etcd over mutual TLS with the master's etcd-client certificate
(--cert, --key), trusting --ca (the etcd-server authority), and re-exposes
every family etcd serves (etcd's gauges named *_total as the counters they
are) plus etcd_version_info. The pair is read again on each new connection,
so the keyclient's renewals need no restart.`,
		Example: "  etcd-metrics-exporter --listen " + services.EtcdExporter.Addr("10.0.0.21") + " --etcd " + services.EtcdClient.URL("10.0.0.21", "") + ` \
    --ca /etc/homeworld/authorities/etcd-server.pem \
    --cert /etc/homeworld/keys/etcd-client.pem --key /etc/homeworld/keys/etcd-client.key`,
		Version:       version.String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := New(etcd, ca, cert, key)
			if err != nil {
				return err
			}
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", e)
			return daemon.Serve(cmd.Context(), listen, mux)
		},
	}
	f := c.Flags()
	f.StringVar(&listen, "listen", "", "address serving /metrics, host:port (required)")
	f.StringVar(&etcd, "etcd", "", "the etcd member's client URL, "+services.EtcdClient.URL("IP", "")+" (required)")
	f.StringVar(&ca, "ca", "", "the etcd-server authority's certificate, which verifies etcd (required)")
	f.StringVar(&cert, "cert", "", "etcd client certificate (required)")
	f.StringVar(&key, "key", "", "its private key (required)")
	for _, name := range []string{"listen", "etcd", "ca", "cert", "key"} {
		c.MarkFlagRequired(name)
	}
	return c
}
