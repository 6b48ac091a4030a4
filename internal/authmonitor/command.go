package authmonitor

import (
	"log"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/version"
)

// Command is auth-monitor's command line.
func Command() *cobra.Command {
	var root, listen, keyserver string
	var interval time.Duration
	c := &cobra.Command{
		Use:   "auth-monitor --listen ADDR --keyserver HOST:PORT",
		Short: "Check the keysystem and SSH logins end to end (runs on the supervisor)",
		Long: `auth-monitor proves, every --interval, that the keysystem works end to end:
it fetches the ssh-host authority and cluster.conf from the keyserver, obtains
an SSH certificate the way the Kerberos gateway will (acting for a probe
account), and logs in to every node, trusting only host certificates from
ssh-host. It reads, below --root, setup.yaml, the cluster CA and its own
identity (/etc/homeworld/keys/auth-monitor.pem, from the keyclient), and
serves the results as Prometheus metrics (keysystem_*_check) on
--listen/metrics.`,
		Example:       "  auth-monitor --listen " + services.AuthMonitor.Addr("10.0.0.10") + " --keyserver " + services.KeyserverAPI.Addr("10.0.0.10"),
		Version:       version.String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := New(layout.Node{Root: root}, keyserver, log.New(os.Stderr, "", log.LstdFlags).Printf)
			if err != nil {
				return err
			}
			go m.Run(cmd.Context(), interval)
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", daemon.MetricsHandler(m.Registry, promhttp.HandlerOpts{}))
			return daemon.Serve(cmd.Context(), listen, mux)
		},
	}
	f := c.Flags()
	f.StringVar(&listen, "listen", "", "address serving /metrics, host:port (required)")
	f.StringVar(&keyserver, "keyserver", "", "keyserver address host:port (required)")
	f.StringVar(&root, "root", "/", "folder the node's files are below (a virtual node's own root)")
	f.DurationVar(&interval, "interval", 15*time.Second, "time between check cycles")
	c.MarkFlagRequired("listen")
	c.MarkFlagRequired("keyserver")
	return c
}
