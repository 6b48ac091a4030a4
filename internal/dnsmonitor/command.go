package dnsmonitor

import (
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/version"
)

// Port is where the monitor serves /metrics. Unprivileged: the pod runs as
// nobody.
const Port = 8080

// Interval is the time between cycles; MinGap the least time between the
// end of a cycle that overran and the next. For StartWindow after the
// monitor starts, a cycle with a failed lookup (the cluster DNS not up
// yet) is retried StartRetry after it: a few lookups, each bounded by
// LookupTimeout.
const (
	Interval    = 15 * time.Second
	MinGap      = time.Second
	StartRetry  = 250 * time.Millisecond
	StartWindow = 2 * time.Minute
)

// Command is dns-monitor's command line.
func Command() *cobra.Command {
	var port int
	var interval time.Duration
	var upstream []string
	c := &cobra.Command{
		Use:   "dns-monitor [--upstream-check NAME=IP] HOSTNAME=IP...",
		Short: "Prove that the cluster DNS answers, from inside a pod",
		Long: `dns-monitor resolves each HOSTNAME every --interval with the pure-Go resolver
(the pod's resolv.conf, so the cluster DNS), one second at most each, and
counts a lookup as good when it gives exactly one address, IP. It serves
dns_lookup_internal_check{hostname}, dns_lookup_internal_timing{hostname} and
dns_lookup_recency on /metrics. --upstream-check names a name outside the
cluster that only the cluster DNS's forwarding can answer:
dns_lookup_upstream_check{hostname}. A malformed or repeated pair is refused.`,
		Example:       "  dns-monitor kubernetes.default.svc.cluster.local=172.28.0.1 kube-dns.kube-system.svc.cluster.local=172.28.0.2",
		Version:       version.String(),
		Args:          cobra.MinimumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			internal, err := ParseExpectations(args)
			if err != nil {
				return err
			}
			up, err := ParseExpectations(upstream)
			if err != nil {
				return err
			}
			m := New(internal, up, PodResolver(), log.New(os.Stderr, "", log.LstdFlags).Printf)
			reg := prometheus.NewRegistry()
			if err := m.Register(reg); err != nil {
				return err
			}
			go daemon.EveryUntilSettled(cmd.Context(), interval, MinGap, StartRetry, StartWindow, m.Cycle)
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", daemon.MetricsHandler(reg, promhttp.HandlerOpts{}))
			return daemon.Serve(cmd.Context(), ":"+strconv.Itoa(port), mux)
		},
	}
	c.Flags().IntVar(&port, "port", Port, "port serving /metrics")
	c.Flags().DurationVar(&interval, "interval", Interval, "time between cycles")
	c.Flags().StringArrayVar(&upstream, "upstream-check", nil, "NAME=IP outside the cluster, answered only through forwarding (repeatable)")
	return c
}
