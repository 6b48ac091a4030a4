package pullmonitor

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/version"
)

// Interval is the time between cycles; MinGap the least time between the
// end of a cycle that overran and the next. For StartWindow after the
// monitor starts, a failed cycle (the registry not up or not filled yet)
// is retried MinGap after it, so a new node proves itself within a second
// of its image arriving. Not sooner: each cycle starts a container.
const (
	Interval    = 15 * time.Second
	MinGap      = time.Second
	StartWindow = 2 * time.Minute
)

// Command is pull-monitor's command line.
func Command() *cobra.Command {
	var endpoint, image, listen, cgroupParent, ctr, snapshotter, runcRoot string
	var interval time.Duration
	c := &cobra.Command{
		Use:   "pull-monitor --image REF [--runtime-endpoint SOCKET] [--listen ADDR]",
		Short: "Prove that this node's container runtime pulls and runs images",
		Long: `pull-monitor checks, every --interval, that the node's container runtime
(containerd at --runtime-endpoint) can pull --image from the registry and
run it:

  pull  through the CRI API, as the kubelet pulls: if the runtime has the
        image, remove it; pull it, timed; confirm the runtime lists it.
        oci_pull_check{image} and oci_pull_timing_seconds.
  exec  run the pulled image with containerd's ctr (--ctr) as a plain
        container of containerd's k8s.io namespace, named pullcheck-<hex>,
        with "/usr/bin/pullcheck TOKEN" for a fresh random TOKEN, in a
        network namespace of its own that nothing connects, its cgroup under
        --cgroup-parent; wait for it to exit: it must have printed exactly
        "hello container world [TOKEN]" and exited 0. It is no pod sandbox
        and no CRI container, so the kubelet never sees it (the kubelet
        kills every sandbox that is none of its pods'). The container is
        removed whatever happened. oci_exec_check{image} and
        oci_exec_timing_seconds.

A failed pull fails both checks. For the first 2 minutes a failed cycle is
tried again a second after it ends rather than an interval later (the
registry may still be filling). A failure is logged, and
oci_check_failed_step_info{image,step} is 1 for the step that failed:
pull, run (ctr could not create or start the container), wait (it did not
exit in time), compare (it printed something else or exited non-zero) or
cleanup (it could not be removed). Each cycle first removes containers
named pullcheck-* in the k8s.io namespace, which only a pull-monitor
killed mid-run leaves. It finds them, and confirms each run's container is
gone, through containerd's API on the same socket: a passing cycle starts
one ctr, for the run. Metrics are served on --listen at /metrics.

The image is homeworld.private/pullcheck (cmd/pullcheck); name it by digest
so that a pull can only succeed with exactly that content.`,
		Example:       "  pull-monitor --image homeworld.private/pullcheck@sha256:<digest> --listen 192.0.2.21" + services.PullMonitor.Addr(""),
		Version:       version.String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := exec.LookPath(ctr); err != nil {
				return fmt.Errorf("pull-monitor runs the check's container with containerd's ctr, which Debian's containerd package installs, and ctr is not at %s (see --ctr): %w", ctr, err)
			}
			conn, err := Dial(endpoint)
			if err != nil {
				return err
			}
			defer conn.Close()
			m := New(conn, SocketPath(endpoint), image, log.New(os.Stderr, "", log.LstdFlags).Printf)
			m.Ctr, m.Snapshotter, m.RuncRoot, m.CgroupParent = ctr, snapshotter, runcRoot, cgroupParent
			reg := prometheus.NewRegistry()
			if err := m.Register(reg); err != nil {
				return err
			}
			go daemon.EveryUntilSettled(cmd.Context(), interval, MinGap, MinGap, StartWindow, m.Cycle)
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", daemon.MetricsHandler(reg, promhttp.HandlerOpts{}))
			return daemon.Serve(cmd.Context(), listen, mux)
		},
	}
	c.Flags().StringVar(&endpoint, "runtime-endpoint", layout.ContainerdSocket, "containerd's socket, a path or unix:///path: the CRI runtime's for the pull, ctr's for the run")
	c.Flags().StringVar(&image, "image", "", "image to pull and run, e.g. homeworld.private/pullcheck@sha256:<digest> (required)")
	c.Flags().StringVar(&listen, "listen", services.PullMonitor.Addr(""), "address serving /metrics")
	c.Flags().DurationVar(&interval, "interval", Interval, "time between cycles")
	c.Flags().StringVar(&cgroupParent, "cgroup-parent", "", "cgroup under which each check's container gets one of its own, e.g. below the kubelet's cgroup root (default: containerd's, /k8s.io/<id>)")
	c.Flags().StringVar(&ctr, "ctr", DefaultCtr, "containerd's command line client, which runs the check's containers")
	c.Flags().StringVar(&snapshotter, "snapshotter", DefaultSnapshotter, "snapshotter of the check's containers: the CRI plugin's, which the pull unpacks the image into")
	c.Flags().StringVar(&runcRoot, "runc-root", "", "runc's state folder, if the CRI plugin's runc options set one (default: runc's)")
	c.MarkFlagRequired("image")
	return c
}

// SocketPath is the socket path of endpoint, a path or a unix:// URL, as
// ctr's --address takes it.
func SocketPath(endpoint string) string {
	if p, ok := strings.CutPrefix(endpoint, "unix://"); ok {
		return p
	}
	return strings.TrimPrefix(endpoint, "unix:")
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
