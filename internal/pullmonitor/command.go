package pullmonitor

import (
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/launch"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/version"
)

// Interval is the time between cycles; MinGap the least time between the
// end of a cycle that overran and the next.
const (
	Interval = 15 * time.Second
	MinGap   = time.Second
)

// Namespace is the default namespace of the check's sandboxes.
const Namespace = "pullcheck"

// Command is pull-monitor's command line.
func Command() *cobra.Command {
	var endpoint, image, listen, namespace, cgroupParent string
	var interval time.Duration
	c := &cobra.Command{
		Use:   "pull-monitor --image REF [--runtime-endpoint SOCKET] [--listen ADDR]",
		Short: "Prove that this node's container runtime pulls and runs images",
		Long: `pull-monitor checks, every --interval, that the node's container runtime
(containerd, through the CRI API at --runtime-endpoint) can pull --image
from the registry and run it:

  pull  if the runtime has the image, remove it; pull it, timed; confirm the
        runtime lists it. oci_pull_check{image} and oci_pull_timing_seconds.
  exec  run the image in a sandbox of its own (name pullcheck-sandbox in
        --namespace, the node's network namespace, so no CNI is involved) as
        "/usr/bin/pullcheck TOKEN" with a fresh random TOKEN, wait for it to
        exit, and read its log: it must have printed exactly
        "hello container world [TOKEN]". The sandbox is removed whatever
        happened. oci_exec_check{image} and oci_exec_timing_seconds.

A failed pull fails both checks. A failure is logged, and
oci_check_failed_step_info{image,step} is 1 for the step that failed: pull,
create sandbox, create container, start, wait, logs, compare or cleanup.
Metrics are served on --listen at /metrics.

The image is homeworld.private/pullcheck (cmd/pullcheck); name it by digest
so that a pull can only succeed with exactly that content.`,
		Example:       "  pull-monitor --image homeworld.private/pullcheck@sha256:<digest> --listen 192.0.2.21" + services.PullMonitor.Addr(""),
		Version:       version.String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, err := Dial(endpoint)
			if err != nil {
				return err
			}
			defer conn.Close()
			m := New(conn, image, namespace, log.New(os.Stderr, "", log.LstdFlags).Printf)
			m.CgroupParent = cgroupParent
			reg := prometheus.NewRegistry()
			if err := m.Register(reg); err != nil {
				return err
			}
			go daemon.Every(cmd.Context(), interval, MinGap, m.Cycle)
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			return daemon.Serve(cmd.Context(), listen, mux)
		},
	}
	c.Flags().StringVar(&endpoint, "runtime-endpoint", launch.ContainerdSocket, "the CRI runtime's socket, a path or unix:///path")
	c.Flags().StringVar(&image, "image", "", "image to pull and run, e.g. homeworld.private/pullcheck@sha256:<digest> (required)")
	c.Flags().StringVar(&listen, "listen", services.PullMonitor.Addr(""), "address serving /metrics")
	c.Flags().DurationVar(&interval, "interval", Interval, "time between cycles")
	c.Flags().StringVar(&namespace, "namespace", Namespace, "namespace of the check's sandboxes; nothing else may use it, since sandboxes named pullcheck-sandbox in it are removed as left over")
	c.Flags().StringVar(&cgroupParent, "cgroup-parent", "", "cgroup of the check's sandboxes, e.g. the kubelet's cgroup root (default: the runtime's)")
	c.MarkFlagRequired("image")
	return c
}

// Dial is a client of the CRI runtime at endpoint, a socket path or a
// unix:// URL as kubelet's --container-runtime-endpoint takes. It connects
// on first use.
func Dial(endpoint string) (*grpc.ClientConn, error) {
	if !strings.HasPrefix(endpoint, "unix:") {
		endpoint = "unix:" + endpoint // gRPC's form for a path, absolute or not
	}
	return grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
}
