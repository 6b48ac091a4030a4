package pullmonitor_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"homeworld.dev/homeworld/internal/images"
	"homeworld.dev/homeworld/internal/pullmonitor"
	"homeworld.dev/homeworld/internal/testutil"
)

// registryName is the name the images are pulled by, the cluster's; the
// test's containerd sends it to the test registry.
const registryName = "homeworld.private"

// TestPullMonitor runs the monitor's cycles against a real containerd and
// runc, pulling from a real registry: a passing cycle, and each way a
// cycle can fail that the test can cause, each leaving nothing behind.
func TestPullMonitor(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: containerd and runc")
	}
	if _, err := os.Stat(pullmonitor.DefaultCtr); err != nil {
		t.Fatalf("containerd's ctr is missing (scripts/install-deps installs containerd): %v", err)
	}
	dir := t.TempDir()
	bin := buildBinaries(t, dir, "pullcheck", "pause")
	reg := startRegistry(t, dir)
	good := build(t, bin["pullcheck"], pullmonitor.Program)
	goodRef := registryName + "/pullcheck@" + reg.Push(t, "pullcheck", "1", good).String()
	goodLayer := layerDigest(t, good)
	// The corrupted image differs from the good one (an extra file), so
	// that its layer is not already in containerd's content store.
	corrupt := build(t, bin["pullcheck"], pullmonitor.Program, images.File{Path: "/etc/corrupted", Data: []byte("served corrupted\n")})
	reg.Push(t, "pullcheck", "corrupt", corrupt)
	corruptLayer := layerDigest(t, corrupt)
	reg.Corrupt(corruptLayer)
	// An image whose pullcheck never exits: the pause program.
	hangsRef := registryName + "/pullcheck:hangs"
	reg.Push(t, "pullcheck", "hangs", build(t, bin["pause"], pullmonitor.Program))
	// One whose pullcheck answers with the wrong token, and fails.
	reg.Push(t, "pullcheck", "lies", build(t, buildLiar(t, dir), pullmonitor.Program))
	// And one without pullcheck: the program is elsewhere.
	reg.Push(t, "pullcheck", "elsewhere", build(t, bin["pullcheck"], "/usr/bin/elsewhere"))

	ctrd := startContainerd(t, filepath.Join(dir, "containerd"), registryName, reg)
	rt := runtimeapi.NewRuntimeServiceClient(ctrd.Conn)
	// ctr's FIFO folders and pid files go here, to be seen removed.
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	t.Setenv("TMPDIR", tmp)
	ctx := context.Background()

	t.Run("a full cycle pulls and runs the image", func(t *testing.T) {
		tm := newTestMonitor(t, ctrd, goodRef)
		ctrCalls := recordCtr(t, tm, filepath.Join(dir, "ctr-recorder"))
		// Twice: the first pulls an image containerd lacks, the second
		// removes the copy the first pulled, so it fetches the layer again.
		for i := range 2 {
			complete := tm.Cycle(ctx)
			if r := tm.Last(); r.Err != nil || !r.Pulled || !r.Ran {
				t.Fatalf("cycle %d: %v", i+1, r)
			}
			if !complete {
				t.Errorf("cycle %d passed both checks but reports itself incomplete", i+1)
			}
			// Looking for leftovers and confirming the removal go
			// over containerd's API: a passing cycle starts one ctr.
			if calls := ctrCalls(); len(calls) != 1 || calls[0] != "run" {
				t.Errorf("cycle %d ran ctr for %q; want only its run", i+1, calls)
			}
			assertNothingLeft(t, ctrd, rt, tmp)
			if n := reg.Served(goodLayer); n != i+1 {
				t.Errorf("after cycle %d the registry served the layer %d times; want %d", i+1, n, i+1)
			}
		}
		tm.assertGauge(t, "oci_pull_check", 1)
		tm.assertGauge(t, "oci_exec_check", 1)
		tm.assertNoFailedStep(t)
		if n := tm.histogramCount(t, "oci_pull_timing_seconds"); n != 2 {
			t.Errorf("oci_pull_timing_seconds has %d observations, want 2", n)
		}
		if n := tm.histogramCount(t, "oci_exec_timing_seconds"); n != 2 {
			t.Errorf("oci_exec_timing_seconds has %d observations, want 2", n)
		}
		tm.promtool(t)
	})

	t.Run("containers an earlier run left behind are removed, and only those", func(t *testing.T) {
		tm := newTestMonitor(t, ctrd, goodRef)
		pull := &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: hangsRef}}
		if _, err := runtimeapi.NewImageServiceClient(ctrd.Conn).PullImage(ctx, pull); err != nil {
			t.Fatal(err)
		}
		// A run killed while its container ran, and one killed between
		// creating the container and its task.
		running, created := pullmonitor.ContainerPrefix+"killed-running", pullmonitor.ContainerPrefix+"killed-created"
		mustCtr(t, ctrd, "run", "--detach", "--null-io", "--snapshotter", pullmonitor.DefaultSnapshotter, "--runc-root", ctrd.RuncRoot,
			hangsRef, running, pullmonitor.Program, "!1!")
		mustCtr(t, ctrd, "containers", "create", "--snapshotter", pullmonitor.DefaultSnapshotter, hangsRef, created, pullmonitor.Program, "!2!")
		// Not the check's: left alone.
		other := "not-the-checks"
		mustCtr(t, ctrd, "containers", "create", "--snapshotter", pullmonitor.DefaultSnapshotter, hangsRef, other, pullmonitor.Program, "!3!")
		testutil.WaitFor(t, time.Minute, "the left-behind container to run", func() (bool, error) {
			st, err := taskStatus(ctrd, running)
			return st == "RUNNING", err
		})

		tm.Cycle(ctx)
		if r := tm.Last(); r.Err != nil {
			t.Errorf("cycle: %v", r)
		}
		for _, id := range []string{running, created} {
			if !strings.Contains(tm.log(), "removed container "+id+" left behind") {
				t.Errorf("the log does not mention removing %s:\n%s", id, tm.log())
			}
		}
		if ids := mustCtr(t, ctrd, "containers", "list", "--quiet"); strings.TrimSpace(ids) != other {
			t.Errorf("containers after the cycle: %q; want only %s", ids, other)
		}
		mustCtr(t, ctrd, "containers", "delete", other)
		assertNothingLeft(t, ctrd, rt, tmp)
	})

	t.Run("the check's container is invisible to the CRI, so to the kubelet", func(t *testing.T) {
		tm := newTestMonitor(t, ctrd, hangsRef)
		tm.ExitTimeout = 10 * time.Minute // the test ends the cycle
		tm.CgroupParent = fmt.Sprintf("/pullmonitor-test-%d/pullcheck", time.Now().UnixNano())
		t.Cleanup(func() { removeCgroup(t, path.Dir(tm.CgroupParent)) })
		before := mustCtr(t, ctrd, "tasks", "list", "--quiet")
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			tm.Cycle(cctx)
		}()
		var id, pid string
		testutil.WaitFor(t, time.Minute, "the check's container to run", func() (bool, error) {
			select {
			case <-done:
				t.Fatalf("the cycle ended: %v", tm.Last())
			default:
			}
			out, err := ctrd.Ctr("tasks", "list")
			if err != nil {
				return false, err
			}
			for _, line := range strings.Split(out, "\n") {
				f := strings.Fields(line)
				if len(f) == 3 && strings.HasPrefix(f[0], pullmonitor.ContainerPrefix) && !slices.Contains(strings.Fields(before), f[0]) && f[2] == "RUNNING" {
					id, pid = f[0], f[1]
					return true, nil
				}
			}
			return false, fmt.Errorf("tasks:\n%s", out)
		})
		lctx, lcancel := context.WithTimeout(ctx, 30*time.Second)
		defer lcancel()
		sbs, err := rt.ListPodSandbox(lctx, &runtimeapi.ListPodSandboxRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, sb := range sbs.GetItems() {
			t.Errorf("the CRI lists sandbox %s (%v) while the check runs", sb.GetId(), sb.GetMetadata())
		}
		ctrs, err := rt.ListContainers(lctx, &runtimeapi.ListContainersRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ctrs.GetContainers() {
			t.Errorf("the CRI lists container %s (%v) while the check runs", c.GetId(), c.GetMetadata())
		}
		if _, err := rt.ContainerStatus(lctx, &runtimeapi.ContainerStatusRequest{ContainerId: id}); status.Code(err) != codes.NotFound {
			t.Errorf("the CRI's status of container %s: %v; want NotFound", id, err)
		}
		// Its cgroup is under --cgroup-parent, named after it.
		cg, err := os.ReadFile("/proc/" + pid + "/cgroup")
		if err != nil {
			t.Fatal(err)
		}
		if want := ":" + tm.CgroupParent + "/" + id + "\n"; !strings.Contains(string(cg), want) {
			t.Errorf("the container's cgroups are\n%s\nnone ends with %q", cg, want)
		}

		cancel() // as when pull-monitor is stopped mid-run
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatal("the cycle did not end within a minute of its context's")
		}
		tm.assertFailed(t, pullmonitor.StepWait, true)
		assertNothingLeft(t, ctrd, rt, tmp)
	})

	t.Run("an image that does not exist fails the pull", func(t *testing.T) {
		ref := registryName + "/pullcheck:absent"
		tm := newTestMonitor(t, ctrd, ref)
		if tm.Cycle(ctx) {
			t.Error("a failed cycle reports itself complete: it would not be retried soon at start")
		}
		tm.assertFailed(t, pullmonitor.StepPull, false)
		if err := tm.Last().Err; !strings.Contains(err.Error(), "not found") {
			t.Errorf("error %q does not say the image was not found", err)
		}
		if n := tm.histogramCount(t, "oci_pull_timing_seconds"); n != 0 {
			t.Errorf("a failed pull was timed: %d observations", n)
		}
		assertNothingLeft(t, ctrd, rt, tmp)
		tm.promtool(t)
	})

	t.Run("a corrupt layer fails the pull with a digest error", func(t *testing.T) {
		ref := registryName + "/pullcheck:corrupt"
		tm := newTestMonitor(t, ctrd, ref)
		tm.Cycle(ctx)
		tm.assertFailed(t, pullmonitor.StepPull, false)
		if err := tm.Last().Err; !strings.Contains(err.Error(), "digest") {
			t.Errorf("error %q does not say the digest was wrong", err)
		}
		if reg.Served(corruptLayer) == 0 {
			t.Errorf("the registry never served the corrupted layer %s: the pull failed for another reason", corruptLayer)
		}
		assertNothingLeft(t, ctrd, rt, tmp)
	})

	t.Run("an image without the program fails the run", func(t *testing.T) {
		tm := newTestMonitor(t, ctrd, registryName+"/pullcheck:elsewhere")
		tm.Cycle(ctx)
		tm.assertFailed(t, pullmonitor.StepRun, true)
		if err := tm.Last().Err.Error(); !strings.Contains(err, pullmonitor.Program) {
			t.Errorf("error %q does not name the program that is missing", err)
		}
		assertNothingLeft(t, ctrd, rt, tmp)
		tm.promtool(t)
	})

	t.Run("a container that never exits fails the wait and is removed", func(t *testing.T) {
		tm := newTestMonitor(t, ctrd, hangsRef)
		tm.ExitTimeout = 2 * time.Second // a deadline for the test, not a timing asserted
		tm.Cycle(ctx)
		tm.assertFailed(t, pullmonitor.StepWait, true)
		if n := tm.histogramCount(t, "oci_exec_timing_seconds"); n != 0 {
			t.Errorf("a failed run was timed: %d observations", n)
		}
		assertNothingLeft(t, ctrd, rt, tmp)
		tm.promtool(t)
	})

	t.Run("a container that prints something else fails the comparison", func(t *testing.T) {
		tm := newTestMonitor(t, ctrd, registryName+"/pullcheck:lies")
		tm.Cycle(ctx)
		tm.assertFailed(t, pullmonitor.StepCompare, true)
		if err := tm.Last().Err.Error(); !strings.Contains(err, `"hello container world [not the token]"`) || !strings.Contains(err, "exit code 3") {
			t.Errorf("error %q does not show what the container printed and its exit code", err)
		}
		assertNothingLeft(t, ctrd, rt, tmp)
	})

	t.Run("after the failures the good image still passes", func(t *testing.T) {
		tm := newTestMonitor(t, ctrd, goodRef)
		tm.Cycle(ctx)
		if r := tm.Last(); r.Err != nil || !r.Ran {
			t.Fatalf("cycle: %v", r)
		}
		assertNothingLeft(t, ctrd, rt, tmp)
	})
}

// recordCtr points tm at a ctr, made in dir (outside TMPDIR, which must
// stay empty), that notes each command it is given, and returns a function
// that reports (and forgets) the commands noted so far: "run",
// "containers", "tasks".
func recordCtr(t *testing.T, tm *testMonitor, dir string) func() []string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	calls := filepath.Join(dir, "calls")
	script := fmt.Sprintf("#!/bin/sh\n# ctr --address A --namespace N COMMAND ...\necho \"$5\" >> %s\nexec %s \"$@\"\n", calls, tm.Ctr)
	wrapper := filepath.Join(dir, "ctr")
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tm.Ctr = wrapper
	return func() []string {
		b, err := os.ReadFile(calls)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		os.Remove(calls)
		return strings.Fields(string(b))
	}
}

// buildBinaries builds Homeworld's commands, static, into dir/bin.
func buildBinaries(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	out := filepath.Join(dir, "bin")
	args := []string{"build", "-trimpath", "-o", out + "/"}
	paths := map[string]string{}
	for _, n := range names {
		args = append(args, "homeworld.dev/homeworld/cmd/"+n)
		paths[n] = filepath.Join(out, n)
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return paths
}

// buildLiar builds a program that prints a greeting with a wrong token and
// exits 3, whatever its arguments.
func buildLiar(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "liar", "main.go")
	os.MkdirAll(filepath.Dir(src), 0o755)
	prog := "package main\n\nimport (\"fmt\"; \"os\")\n\nfunc main() {\n\tfmt.Println(\"hello container world [not the token]\")\n\tos.Exit(3)\n}\n"
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bin", "liar")
	cmd := exec.Command("go", "build", "-o", out, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the liar: %v\n%s", err, b)
	}
	return out
}

// build is the single-binary image of binary at path, as scripts/build
// makes Homeworld's images, with extra files.
func build(t *testing.T, binary, path string, extra ...images.File) v1.Image {
	t.Helper()
	spec, err := images.Binary(binary, path)
	if err != nil {
		t.Fatal(err)
	}
	spec.Files = append(spec.Files, extra...)
	img, err := images.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func layerDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("image layers: %v, %v", layers, err)
	}
	d, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// assertNothingLeft checks that nothing of a run is left: no container,
// task or container snapshot in containerd's k8s.io namespace, no sandbox
// or container the CRI lists, and nothing in tmp.
func assertNothingLeft(t *testing.T, ctrd *testContainerd, rt runtimeapi.RuntimeServiceClient, tmp string) {
	t.Helper()
	if ids := mustCtr(t, ctrd, "containers", "list", "--quiet"); ids != "" {
		t.Errorf("containers are left: %s", strings.Fields(ids))
	}
	if ids := mustCtr(t, ctrd, "tasks", "list", "--quiet"); ids != "" {
		t.Errorf("tasks are left: %s", strings.Fields(ids))
	}
	for _, line := range strings.Split(mustCtr(t, ctrd, "snapshots", "--snapshotter", pullmonitor.DefaultSnapshotter, "list"), "\n") {
		if strings.HasPrefix(line, pullmonitor.ContainerPrefix) {
			t.Errorf("a container's snapshot is left: %s", line)
		}
	}
	ctx := context.Background()
	sbs, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range sbs.GetItems() {
		t.Errorf("sandbox %s (%v) is left", sb.GetId(), sb.GetMetadata())
	}
	ctrs, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ctrs.GetContainers() {
		t.Errorf("CRI container %s (%v) is left", c.GetId(), c.GetMetadata())
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("%d temporary files are left in %s, e.g. %s", len(left), tmp, left[0].Name())
	}
}

// mustCtr runs ctr against the test's containerd and fails the test if ctr
// fails.
func mustCtr(t *testing.T, ctrd *testContainerd, args ...string) string {
	t.Helper()
	out, err := ctrd.Ctr(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// taskStatus is the status ctr gives the task of container id.
func taskStatus(ctrd *testContainerd, id string) (string, error) {
	out, err := ctrd.Ctr("tasks", "list")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == id {
			return f[2], nil
		}
	}
	return "", fmt.Errorf("no task %s in\n%s", id, out)
}

// removeCgroup removes the cgroup at path and those below it, in every
// hierarchy mounted under /sys/fs/cgroup (cgroup v1 has one for each
// controller, v2 just one), after checking that none is a check's
// container's: runc removes those.
func removeCgroup(t *testing.T, path string) {
	var roots []string
	for _, pattern := range []string{"/sys/fs/cgroup" + path, "/sys/fs/cgroup/*" + path} {
		m, _ := filepath.Glob(pattern)
		roots = append(roots, m...)
	}
	for _, root := range roots {
		var dirs []string
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
				if strings.HasPrefix(d.Name(), pullmonitor.ContainerPrefix) {
					t.Errorf("the cgroup of a check's container is left: %s", p)
				}
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- { // below first
			if err := os.Remove(dirs[i]); err != nil {
				t.Errorf("removing the test's cgroup: %v", err)
			}
		}
	}
	if len(roots) == 0 {
		t.Errorf("no cgroup %s was made", path)
	}
}

// testMonitor is a monitor with its own metrics registry and a log kept for
// the test to read.
type testMonitor struct {
	*pullmonitor.Monitor
	reg *prometheus.Registry

	mu   sync.Mutex
	logs strings.Builder
}

func newTestMonitor(t *testing.T, ctrd *testContainerd, image string) *testMonitor {
	tm := &testMonitor{reg: prometheus.NewRegistry()}
	tm.Monitor = pullmonitor.New(ctrd.Conn, ctrd.Socket, image, func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		t.Log(line)
		tm.mu.Lock()
		defer tm.mu.Unlock()
		tm.logs.WriteString(line + "\n")
	})
	tm.RuncRoot = ctrd.RuncRoot
	if err := tm.Register(tm.reg); err != nil {
		t.Fatal(err)
	}
	return tm
}

func (tm *testMonitor) log() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.logs.String()
}

// assertFailed checks that the last cycle failed at step, whether it had
// pulled the image, and that the metrics and the log say so.
func (tm *testMonitor) assertFailed(t *testing.T, step pullmonitor.Step, pulled bool) {
	t.Helper()
	r := tm.Last()
	if r == nil || r.Err == nil || r.Step != step || r.Pulled != pulled || r.Ran {
		t.Fatalf("cycle: %v (%+v); want %s failed, pulled %v", r, r, step, pulled)
	}
	tm.assertGauge(t, "oci_pull_check", map[bool]float64{true: 1}[pulled])
	tm.assertGauge(t, "oci_exec_check", 0)
	if got := tm.failedSteps(t); len(got) != 1 || got[0] != string(step) {
		t.Errorf("oci_check_failed_step_info names steps %q, want [%s]", got, step)
	}
	if want := fmt.Sprintf("%s: %s failed", tm.Image, step); !strings.Contains(tm.log(), want) {
		t.Errorf("the log does not say %q:\n%s", want, tm.log())
	}
}

func (tm *testMonitor) assertNoFailedStep(t *testing.T) {
	t.Helper()
	if got := tm.failedSteps(t); len(got) != 0 {
		t.Errorf("oci_check_failed_step_info names steps %q after a cycle that passed", got)
	}
}

// family is the gathered metric family name, nil if it has no samples.
func (tm *testMonitor) family(t *testing.T, name string) *dto.MetricFamily {
	t.Helper()
	fams, err := tm.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

// labelOf is the value of a sample's label name.
func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func (tm *testMonitor) assertGauge(t *testing.T, name string, want float64) {
	t.Helper()
	f := tm.family(t, name)
	if f == nil || len(f.GetMetric()) != 1 {
		t.Fatalf("%s: %v; want one sample", name, f)
	}
	m := f.GetMetric()[0]
	if got := labelOf(m, "image"); got != tm.Image {
		t.Errorf("%s{image=%q}, want image %q", name, got, tm.Image)
	}
	if got := m.GetGauge().GetValue(); got != want {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

func (tm *testMonitor) failedSteps(t *testing.T) []string {
	t.Helper()
	var steps []string
	if f := tm.family(t, "oci_check_failed_step_info"); f != nil {
		for _, m := range f.GetMetric() {
			if m.GetGauge().GetValue() == 1 && labelOf(m, "image") == tm.Image {
				steps = append(steps, labelOf(m, "step"))
			}
		}
	}
	return steps
}

func (tm *testMonitor) histogramCount(t *testing.T, name string) uint64 {
	t.Helper()
	f := tm.family(t, name)
	if f == nil {
		return 0
	}
	var n uint64
	for _, m := range f.GetMetric() {
		n += m.GetHistogram().GetSampleCount()
	}
	return n
}

// promtool has Prometheus's own linter read /metrics as served.
func (tm *testMonitor) promtool(t *testing.T) {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(tm.reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = resp.Body
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
