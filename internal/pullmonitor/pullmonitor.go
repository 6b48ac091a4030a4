// Package pullmonitor proves, on every node that runs pods, that the node's
// container runtime can pull an image from the cluster registry and run it:
// each cycle it removes the pullcheck image, pulls it again through the CRI
// API, as the kubelet pulls (oci_pull_check, oci_pull_timing_seconds), then
// runs it with a fresh token as a plain containerd container, with
// containerd's ctr, and checks that it printed that token back
// (oci_exec_check, oci_exec_timing_seconds), as the original Homeworld's
// pull-monitor did with crictl. The run is no pod sandbox: the kubelet
// removes every sandbox that is none of its pods', so a sandbox of the
// check's own would be killed under it. A failed check also names the step
// that failed (oci_check_failed_step_info), so a verify command can say
// what broke. cmd/pull-monitor runs it; cmd/pullcheck is the program in the
// image.
package pullmonitor

import (
	"context"
	"fmt"
	"sync"
	"time"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Step names a part of a cycle, as oci_check_failed_step_info's step label
// and the log say when it fails.
type Step string

const (
	StepPull    Step = "pull"    // inspect, remove the old copy, pull, confirm
	StepRun     Step = "run"     // ctr could not create or start the container
	StepWait    Step = "wait"    // the container did not exit in time
	StepCompare Step = "compare" // it printed something else, or exited non-zero
	StepCleanup Step = "cleanup" // the container could not be removed after a run that passed
)

// Steps lists every step in the order a cycle takes them.
var Steps = []Step{StepPull, StepRun, StepWait, StepCompare, StepCleanup}

// Bounds on the parts of a cycle. A pull or a run slower than these counts
// as failed; both are above the histograms' top buckets. ExitTimeout is
// what the container gets to exit in once its task is created, within
// ExecTimeout. CleanupTimeout bounds removing what a run left, apart.
const (
	PullTimeout    = time.Minute
	ExecTimeout    = 90 * time.Second
	ExitTimeout    = 30 * time.Second
	CleanupTimeout = 30 * time.Second
)

// The histograms' buckets, in seconds. From 8 s (pulls) and 5 s (runs) up
// they are the original Homeworld's, measured in 2018 on the hardware of
// the time, pulling through the cluster network with CRI-O: kept so that
// queries and dashboards written for them still work. The finer buckets
// below are new: containerd pulling the small pullcheck image from the
// supervisor's registry, and starting it, takes well under a second, and
// with the original buckets alone every observation would land in the
// first one.
var (
	PullBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 4, 6, 8, 10, 11, 12, 13, 14, 15, 16, 18, 20, 30, 40}
	ExecBuckets = []float64{0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 30, 60}
)

// Defaults of the ways ctr is run.
const (
	// DefaultCtr is where Debian's containerd package installs ctr.
	DefaultCtr = "/usr/bin/ctr"
	// DefaultSnapshotter is the one the node's CRI plugin uses (see
	// internal/launch), which the pull unpacks the image into.
	DefaultSnapshotter = "overlayfs"
)

// Monitor pulls Image through a CRI runtime and runs it with ctr through
// the same containerd every cycle.
type Monitor struct {
	Image string // a reference, e.g. homeworld.private/pullcheck@sha256:…
	// Ctr is containerd's command line client, Address containerd's
	// socket (a path), Snapshotter the CRI plugin's snapshotter, and
	// RuncRoot runc's state folder as the CRI plugin's runc options give
	// it (empty: runc's default).
	Ctr, Address, Snapshotter, RuncRoot string
	// CgroupParent is where the check's containers' cgroups go, beside
	// the node's pods (the kubelet's cgroup root), each in one named
	// after the container; empty leaves containerd's default.
	CgroupParent string
	Logf         func(format string, args ...any)

	// Timeouts; New sets them to the defaults above.
	PullTimeout, ExecTimeout, ExitTimeout, CleanupTimeout time.Duration

	images     runtimeapi.ImageServiceClient
	containers containersapi.ContainersClient

	pullTiming, execTiming *prometheus.HistogramVec

	mu   sync.Mutex
	last *Result
}

// Result is one cycle's outcome. Step and Err are set when a check failed.
type Result struct {
	Pulled, Ran bool
	Step        Step
	Err         error
}

var (
	pullCheckDesc = prometheus.NewDesc("oci_pull_check",
		"1 if the last cycle removed image and pulled it again through the node's container runtime.", []string{"image"}, nil)
	execCheckDesc = prometheus.NewDesc("oci_exec_check",
		"1 if the last cycle ran image as a container and it printed the token it was given.", []string{"image"}, nil)
	failedStepDesc = prometheus.NewDesc("oci_check_failed_step_info",
		"1 for the step at which the last cycle failed (pull, run, wait, compare, cleanup); absent when it passed.",
		[]string{"image", "step"}, nil)
)

// New is a monitor of image, pulled through the CRI runtime at conn (see
// Dial) and run with ctr through the containerd whose socket is at
// address, the same.
func New(conn grpc.ClientConnInterface, address, image string, logf func(string, ...any)) *Monitor {
	return &Monitor{
		Image: image, Ctr: DefaultCtr, Address: address, Snapshotter: DefaultSnapshotter, Logf: logf,
		PullTimeout: PullTimeout, ExecTimeout: ExecTimeout, ExitTimeout: ExitTimeout, CleanupTimeout: CleanupTimeout,
		images:     runtimeapi.NewImageServiceClient(conn),
		containers: containersapi.NewContainersClient(conn),
		pullTiming: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "oci_pull_timing_seconds",
			Help:    "Seconds a successful pull of image took.",
			Buckets: PullBuckets,
		}, []string{"image"}),
		execTiming: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "oci_exec_timing_seconds",
			Help:    "Seconds a successful run of image took, from creating its container to removing it.",
			Buckets: ExecBuckets,
		}, []string{"image"}),
	}
}

// Register adds the monitor's metrics to reg.
func (m *Monitor) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.pullTiming, m.execTiming, m} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Cycle runs both checks once and keeps the result for the metrics; it
// reports whether both passed (for daemon.EveryUntilSettled).
func (m *Monitor) Cycle(ctx context.Context) bool {
	r := m.Check(ctx)
	if r.Err != nil {
		m.Logf("%s: %s failed: %v", m.Image, r.Step, r.Err)
	}
	m.mu.Lock()
	m.last = &r
	m.mu.Unlock()
	return r.Err == nil
}

// Check runs both checks once: the pull, then, if it worked, the run. It
// observes the timings of the checks that passed.
func (m *Monitor) Check(ctx context.Context) Result {
	m.sweep(ctx)
	ref, took, err := m.pull(ctx)
	if err != nil {
		return Result{Step: StepPull, Err: err}
	}
	m.pullTiming.WithLabelValues(m.Image).Observe(took.Seconds())
	start := time.Now()
	if step, err := m.exec(ctx, ref); err != nil {
		return Result{Pulled: true, Step: step, Err: err}
	}
	m.execTiming.WithLabelValues(m.Image).Observe(time.Since(start).Seconds())
	return Result{Pulled: true, Ran: true}
}

// Last is the last cycle's result, nil before the first has ended.
func (m *Monitor) Last() *Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// Describe implements prometheus.Collector.
func (m *Monitor) Describe(ch chan<- *prometheus.Desc) {
	ch <- pullCheckDesc
	ch <- execCheckDesc
	ch <- failedStepDesc
}

// Collect implements prometheus.Collector: the last cycle's checks, none
// before the first cycle has ended.
func (m *Monitor) Collect(ch chan<- prometheus.Metric) {
	r := m.Last()
	if r == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(pullCheckDesc, prometheus.GaugeValue, b2f(r.Pulled), m.Image)
	ch <- prometheus.MustNewConstMetric(execCheckDesc, prometheus.GaugeValue, b2f(r.Ran), m.Image)
	if r.Err != nil {
		ch <- prometheus.MustNewConstMetric(failedStepDesc, prometheus.GaugeValue, 1, m.Image, string(r.Step))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// String is the result as the log and tests show it.
func (r Result) String() string {
	if r.Err == nil {
		return "pulled and ran"
	}
	return fmt.Sprintf("%s failed: %v", r.Step, r.Err)
}
