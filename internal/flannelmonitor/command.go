package flannelmonitor

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/version"
)

// Port is where every flannel-monitor container listens (a monitor's /ping
// and /metrics, the collector's /metrics) and where each finds the others.
// Unprivileged: the pods run as nobody.
const Port = 8080

// Interval is the time between cycles; MinGap the least time between
// the end of a cycle that overran and the next. For StartWindow after a
// monitor or collector starts, an incomplete cycle (a peer not up yet) is
// retried StartRetry after it, so a new cluster is proven as soon as its
// last monitor answers: a new cluster's proof waits on a monitor's round
// of pings, then the collector's round of reads, each up to StartRetry
// after the last peer came up. A round is a few HTTP requests.
const (
	Interval    = 15 * time.Second
	MinGap      = time.Second
	StartRetry  = 250 * time.Millisecond
	StartWindow = 2 * time.Minute
)

// Command is flannel-monitor's command line: one subcommand per role.
func Command() *cobra.Command {
	var port int
	var interval time.Duration
	c := &cobra.Command{
		Use:   "flannel-monitor monitor|collector",
		Short: "Prove that every node's pods reach every other node's pods",
		Long: `flannel-monitor runs as two kinds of pod. A monitor on every node answers
GET /ping with PONG, pings every node's monitor each cycle and serves
flannel_talk_check and flannel_talk_timing per pair of nodes; one collector
reads every monitor's /metrics and serves them all, with its own checks, for
Prometheus. Each reads the Kubernetes API as the pod's service account (nodes,
and pods in its namespace) and needs POD_NAME and POD_NAMESPACE in its
environment (the downward API).`,
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	c.PersistentFlags().IntVar(&port, "port", Port, "port every flannel-monitor pod listens on and reaches the others at")
	c.PersistentFlags().DurationVar(&interval, "interval", Interval, "time between cycles")

	var network string
	monitor := &cobra.Command{
		Use:   "monitor --pod-network CIDR",
		Short: "Answer pings, and ping every node's monitor from this node",
		Long: `The monitor checks that its pod's address, as Kubernetes reports it, lies
inside --pod-network and is its only interface address there, so that pings
of it test the pod network; a pod starts before the kubelet reports its
address, so the monitor waits up to 2 minutes for it. It then answers GET
/ping with PONG, pings every node's monitor (its own too) each cycle, and
serves the results on /metrics.
The original ran the answering part as a pod of its own, the reflector; one
pod per node does both here, so each node runs one pod less.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			netw, err := netip.ParsePrefix(network)
			if err != nil {
				return fmt.Errorf("--pod-network: %w", err)
			}
			api, self, err := ownPod(cmd.Context())
			if err != nil {
				return err
			}
			if self, err = awaitAddresses(cmd.Context(), api, self, addressPoll, addressWait, logf()); err != nil {
				return err
			}
			addrs, err := net.InterfaceAddrs()
			if err != nil {
				return err
			}
			if err := CheckPodAddress(self.PodIP, netw, addrs); err != nil {
				return err
			}
			m := NewMonitor(api, self.Namespace, self.HostIP, port, logf())
			reg := prometheus.NewRegistry()
			if err := m.Register(reg); err != nil {
				return err
			}
			go daemon.EveryUntilSettled(cmd.Context(), interval, MinGap, StartRetry, StartWindow, m.Cycle)
			mux := metricsMux(reg)
			mux.Handle("/ping", Reflector())
			return daemon.Serve(cmd.Context(), ":"+strconv.Itoa(port), mux)
		},
	}
	monitor.Flags().StringVar(&network, "pod-network", "", "the cluster's pod network, setup.yaml's cidr-pods (required)")
	monitor.MarkFlagRequired("pod-network")

	collector := &cobra.Command{
		Use:   "collector",
		Short: "Read every monitor and serve all their metrics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, self, err := ownPod(cmd.Context())
			if err != nil {
				return err
			}
			col := NewCollector(api, self.Namespace, port, logf())
			g, err := col.Gatherer()
			if err != nil {
				return err
			}
			go daemon.EveryUntilSettled(cmd.Context(), interval, MinGap, StartRetry, StartWindow, col.Cycle)
			return daemon.Serve(cmd.Context(), ":"+strconv.Itoa(port), metricsMux(g))
		},
	}
	c.AddCommand(monitor, collector)
	return c
}

func logf() func(string, ...any) { return log.New(os.Stderr, "", log.LstdFlags).Printf }

// metricsMux serves g on GET /metrics.
func metricsMux(g prometheus.Gatherer) *http.ServeMux {
	mux := http.NewServeMux()
	// ContinueOnError: one bad re-exported family must not hide the rest.
	mux.Handle("GET /metrics", daemon.MetricsHandler(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return mux
}
