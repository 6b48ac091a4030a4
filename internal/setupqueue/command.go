package setupqueue

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/kubeapply"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/version"
)

// Interval is the time between cycles, as the original's timer; MinGap
// the least time between the end of a cycle and the next (one that overran,
// or one woken by an arriving item).
const (
	Interval = 15 * time.Second
	MinGap   = time.Second
)

// Command is setup-queue's command line. It runs until stopped and does
// not notify systemd: its unit is Type=exec, since nothing waits for it.
func Command() *cobra.Command {
	var dir, kubectl, kubeconfig, listen string
	var interval time.Duration
	var keep int
	c := &cobra.Command{
		Use:   "setup-queue --kubectl PATH --kubeconfig FILE --listen ADDR [--queue DIR]",
		Short: "Apply the Kubernetes manifests spire queues on the supervisor",
		Long: `setup-queue applies the manifests waiting in --queue, oldest first, with
kubectl apply --server-side as the field manager "homeworld": a second after
an item arrives (it watches the folder), and every --interval in any case.

An item is a file SEQUENCE.MANIFEST.yaml (e.g. 1764172800.123456789.rbac.yaml)
of one or more YAML documents; spire deploy writes them. Other files are left
alone; hidden and *.tmp files are not even mentioned, so to queue a file by
hand, write it under a hidden name and rename it into place.

An applied item moves to DIR/applied/ (the newest --keep stay there) and gets
a JSON line in DIR/applied/audit.log. An item the API server refuses stays
queued and is tried again every cycle, while the items after it go ahead: an
item that needs one queued after it (RBAC for a namespace yet to come) goes
in on a later cycle. To give up on an item, delete its file. While the API
server does not answer, everything waits; that is logged once, not per try.
kubectl keeps its discovery cache in DIR/.kubectl-cache, not in a home folder.

Metrics on --listen/metrics: setup_queue_pending, setup_queue_failing{manifest}
(1 while that manifest's latest attempt failed), setup_queue_failures_total and
setup_queue_applied_total{manifest}, setup_queue_last_success_timestamp_seconds
and setup_queue_apiserver_unreachable.`,
		Example:       "  setup-queue --kubectl /usr/bin/kubectl --kubeconfig /etc/homeworld/config/kubeconfig-setup-queue --listen " + services.SetupQueue.Addr("10.0.0.10"),
		Version:       version.String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := os.Stat(kubectl); err != nil {
				return fmt.Errorf("--kubectl: %w", err)
			}
			logger := log.New(os.Stderr, "", log.LstdFlags)
			q := New(Config{Dir: dir, Kubectl: kubeapply.Kubectl{Path: kubectl, Kubeconfig: kubeconfig, CacheDir: filepath.Join(dir, KubectlCache)}, Keep: keep, Logf: logger.Printf})
			reg := prometheus.NewRegistry()
			if err := q.Register(reg); err != nil {
				return err
			}
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			wake, err := Watch(cmd.Context(), dir)
			if err != nil {
				logger.Printf("setup-queue: not watching %s (%v): new items wait for the next cycle", dir, err)
			}
			logger.Printf("setup-queue: applying what is queued in %s as it arrives, and every %v", dir, interval)
			go daemon.EveryOrWoken(cmd.Context(), interval, MinGap, wake, q.Cycle)
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", daemon.MetricsHandler(reg, promhttp.HandlerOpts{}))
			return daemon.ServeListener(cmd.Context(), l, mux)
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "queue", DefaultDir, "the queue folder")
	f.StringVar(&kubectl, "kubectl", "", "the pinned kubectl (required)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of an identity that may apply everything queued (required)")
	f.StringVar(&listen, "listen", "", "address serving /metrics, host:port (required)")
	f.DurationVar(&interval, "interval", Interval, "time between cycles")
	f.IntVar(&keep, "keep", DefaultKeep, "applied items kept in DIR/applied")
	c.MarkFlagRequired("kubectl")
	c.MarkFlagRequired("kubeconfig")
	c.MarkFlagRequired("listen")
	return c
}
