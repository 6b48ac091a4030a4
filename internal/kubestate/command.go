package kubestate

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/version"
)

// Command is kube-state-exporter's command line.
func Command() *cobra.Command {
	var listen, ca, cert, key string
	var apiservers []string
	c := &cobra.Command{
		Use:   "kube-state-exporter --listen ADDR --ca FILE --cert FILE --key FILE --apiserver URL...",
		Short: "Serve Kubernetes object state as metrics (runs on the supervisor)",
		Long: `kube-state-exporter reads nodes (info, conditions, taints) and namespaces from
the Kubernetes API on every scrape and serves them on --listen/metrics under
kube-state-metrics' names, plus kube_state_api_up. It authenticates with the
supervisor's read-only certificate (--cert, --key; re-read on each request,
so renewals are picked up), trusts --ca, and asks each --apiserver in turn
until one answers.`,
		Example: "  kube-state-exporter --listen " + services.KubeState.Addr("10.0.0.10") + ` \
    --ca /etc/homeworld/authorities/kubernetes.pem \
    --cert /etc/homeworld/keys/kubernetes-supervisor.pem --key /etc/homeworld/keys/kubernetes-supervisor.key \
    --apiserver ` + services.APIServer.URL("10.0.0.21", "") + " --apiserver " + services.APIServer.URL("10.0.0.22", ""),
		Version:       version.String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := New(apiservers, ca, cert, key)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(e)
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			return daemon.Serve(cmd.Context(), listen, mux)
		},
	}
	f := c.Flags()
	f.StringVar(&listen, "listen", "", "address serving /metrics, host:port (required)")
	f.StringVar(&ca, "ca", "", "the kubernetes authority's certificate, which verifies the apiservers (required)")
	f.StringVar(&cert, "cert", "", "client certificate for the API (required)")
	f.StringVar(&key, "key", "", "its private key (required)")
	f.StringSliceVar(&apiservers, "apiserver", nil, "apiserver URL; repeat or separate with commas for several (required)")
	for _, name := range []string{"listen", "ca", "cert", "key", "apiserver"} {
		c.MarkFlagRequired(name)
	}
	return c
}
