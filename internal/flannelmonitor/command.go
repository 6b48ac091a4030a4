package flannelmonitor

import (
	"context"
	"errors"
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
	"homeworld.dev/homeworld/internal/incluster"
	"homeworld.dev/homeworld/internal/version"
)

// Port is where every flannel-monitor container listens (the reflector's
// /ping, the monitor's and the collector's /metrics) and where each finds
// the others. Unprivileged: the pods run as nobody.
const Port = 8080

// Interval is the time between cycles; MinGap the least time between
// the end of a cycle that overran and the next. For StartWindow after a
// monitor or collector starts, an incomplete cycle (a peer not up yet) is
// retried MinGap after it, so a new cluster is proven as soon as its last
// reflector answers.
const (
	Interval    = 15 * time.Second
	MinGap      = time.Second
	StartWindow = 2 * time.Minute
)

// Command is flannel-monitor's command line: one subcommand per role.
func Command() *cobra.Command {
	var port int
	var interval time.Duration
	c := &cobra.Command{
		Use:   "flannel-monitor reflector|monitor|collector",
		Short: "Prove that every node's pods reach every other node's pods",
		Long: `flannel-monitor runs as three kinds of pod. A reflector on every node answers
GET /ping with PONG; a monitor on every node pings every reflector each cycle
and serves flannel_talk_check and flannel_talk_timing per pair of nodes; one
collector reads every monitor's /metrics and serves them all, with its own
checks, for Prometheus. Each reads the Kubernetes API as the pod's service
account (nodes, and pods in its namespace) and needs POD_NAME and
POD_NAMESPACE in its environment (the downward API).`,
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	c.PersistentFlags().IntVar(&port, "port", Port, "port every flannel-monitor pod listens on and reaches the others at")
	c.PersistentFlags().DurationVar(&interval, "interval", Interval, "time between cycles (monitor, collector)")

	var network string
	reflector := &cobra.Command{
		Use:   "reflector --pod-network CIDR",
		Short: "Answer pings from the monitors",
		Long: `The reflector checks that its pod's address, as Kubernetes reports it, lies
inside --pod-network and is its only interface address there, then answers
GET /ping with PONG and anything else with 404.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			netw, err := netip.ParsePrefix(network)
			if err != nil {
				return fmt.Errorf("--pod-network: %w", err)
			}
			_, self, err := ownPod(cmd.Context())
			if err != nil {
				return err
			}
			addrs, err := net.InterfaceAddrs()
			if err != nil {
				return err
			}
			if err := CheckPodAddress(self.PodIP, netw, addrs); err != nil {
				return err
			}
			return daemon.Serve(cmd.Context(), ":"+strconv.Itoa(port), Reflector())
		},
	}
	reflector.Flags().StringVar(&network, "pod-network", "", "the cluster's pod network, setup.yaml's cidr-pods (required)")
	reflector.MarkFlagRequired("pod-network")

	monitor := &cobra.Command{
		Use:   "monitor",
		Short: "Ping every node's reflector from this node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, self, err := ownPod(cmd.Context())
			if err != nil {
				return err
			}
			if self.HostIP == "" {
				return fmt.Errorf("pod %s has no host address yet", self.Name)
			}
			m := NewMonitor(api, self.Namespace, self.HostIP, port, logf())
			reg := prometheus.NewRegistry()
			if err := m.Register(reg); err != nil {
				return err
			}
			go daemon.EveryUntilSettled(cmd.Context(), interval, MinGap, StartWindow, m.Cycle)
			return serveMetrics(cmd.Context(), port, reg)
		},
	}

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
			go daemon.EveryUntilSettled(cmd.Context(), interval, MinGap, StartWindow, col.Cycle)
			return serveMetrics(cmd.Context(), port, g)
		},
	}
	c.AddCommand(reflector, monitor, collector)
	return c
}

func logf() func(string, ...any) { return log.New(os.Stderr, "", log.LstdFlags).Printf }

// ownPod connects to the API as the pod's service account and reads the
// pod itself, named by the downward API.
func ownPod(ctx context.Context) (*incluster.Client, incluster.Pod, error) {
	name, ns := os.Getenv("POD_NAME"), os.Getenv("POD_NAMESPACE")
	if name == "" || ns == "" {
		return nil, incluster.Pod{}, errors.New("POD_NAME and POD_NAMESPACE must name this pod (the downward API)")
	}
	api, err := incluster.FromEnvironment(incluster.ServiceAccountDir)
	if err != nil {
		return nil, incluster.Pod{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	self, err := api.GetPod(ctx, ns, name)
	if err != nil {
		return nil, incluster.Pod{}, fmt.Errorf("reading this pod: %w", err)
	}
	return api, self, nil
}

func serveMetrics(ctx context.Context, port int, g prometheus.Gatherer) error {
	mux := http.NewServeMux()
	// ContinueOnError: one bad re-exported family must not hide the rest.
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return daemon.Serve(ctx, ":"+strconv.Itoa(port), mux)
}
