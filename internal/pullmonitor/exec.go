package pullmonitor

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The names the check's sandbox and container are given, as the original's.
const (
	SandboxName   = "pullcheck-sandbox"
	ContainerName = "pullcheck"
	// Program is the command run in the image, with the token.
	Program = "/usr/bin/pullcheck"
	logFile = "container.log"
)

// pollInterval is how often a running container's state is asked for:
// pullcheck exits within milliseconds of starting.
const pollInterval = 50 * time.Millisecond

// Greeting is what pullcheck prints for token.
func Greeting(token string) string { return "hello container world [" + token + "]" }

// exec runs the pulled image (ref, as the runtime named it) in a sandbox of
// its own and checks its output, and removes the sandbox whatever happened.
// The sandbox shares the node's network namespace, so no CNI is involved:
// the check is about the runtime, not the pod network.
func (m *Monitor) exec(ctx context.Context, ref string) (Step, error) {
	ctx, cancel := context.WithTimeout(ctx, m.ExecTimeout)
	defer cancel()
	logDir, err := os.MkdirTemp("", "pullcheck-logs-")
	if err != nil {
		return StepCreateSandbox, err
	}
	defer os.RemoveAll(logDir)
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: SandboxName, Namespace: m.Namespace, Uid: "pullcheck-" + randomHex(), Attempt: 1},
		LogDirectory: logDir,
		Linux: &runtimeapi.LinuxPodSandboxConfig{CgroupParent: m.CgroupParent, SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
		}},
	}
	sb, err := m.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		return StepCreateSandbox, err
	}
	step, err := m.run(ctx, sb.GetPodSandboxId(), cfg, ref)
	if cerr := m.removeSandbox(ctx, sb.GetPodSandboxId()); cerr != nil {
		if err == nil {
			return StepCleanup, cerr
		}
		m.Logf("%s: removing sandbox %s: %v", m.Image, sb.GetPodSandboxId(), cerr)
	}
	return step, err
}

// run creates, starts and waits for the container in sandbox, then checks
// what it printed.
func (m *Monitor) run(ctx context.Context, sandbox string, cfg *runtimeapi.PodSandboxConfig, ref string) (Step, error) {
	token := fmt.Sprintf("!%d!", rand.Uint64())
	c, err := m.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: sandbox,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: ContainerName},
			Image:    &runtimeapi.ImageSpec{Image: ref},
			Command:  []string{Program, token},
			LogPath:  logFile,
		},
		SandboxConfig: cfg,
	})
	if err != nil {
		return StepCreateContainer, err
	}
	id := c.GetContainerId()
	if _, err := m.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		return StepStart, err
	}
	st, err := m.wait(ctx, id)
	if err != nil {
		return StepWait, err
	}
	data, err := os.ReadFile(filepath.Join(cfg.LogDirectory, logFile))
	if err != nil {
		return StepLogs, err
	}
	out, err := ParseLog(data)
	if err != nil {
		return StepLogs, err
	}
	want := Greeting(token)
	if out.Stdout != want || st.GetExitCode() != 0 {
		return StepCompare, fmt.Errorf("printed %q, stderr %q, exit code %d; want %q and exit code 0", out.Stdout, out.Stderr, st.GetExitCode(), want)
	}
	return "", nil
}

// wait polls the container's state until it has exited, and fails on a
// state that is neither on the way there nor there, or after ExitTimeout.
func (m *Monitor) wait(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, m.ExitTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	state := runtimeapi.ContainerState_CONTAINER_CREATED
	for {
		resp, err := m.runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if ctx.Err() != nil {
			return nil, fmt.Errorf("the container did not exit within %v (last seen %s): %w", m.ExitTimeout, state, ctx.Err())
		}
		if err != nil {
			return nil, err
		}
		st := resp.GetStatus()
		state = st.GetState()
		switch state {
		case runtimeapi.ContainerState_CONTAINER_EXITED:
			return st, nil
		case runtimeapi.ContainerState_CONTAINER_CREATED, runtimeapi.ContainerState_CONTAINER_RUNNING:
		default:
			return nil, fmt.Errorf("container is in state %s (reason %q, message %q)", state, st.GetReason(), st.GetMessage())
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// removeSandbox stops and removes a sandbox and its container. It has time
// of its own: a cycle cut short (a timeout, the daemon stopping) must still
// leave nothing behind.
func (m *Monitor) removeSandbox(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.CleanupTimeout)
	defer cancel()
	if _, err := m.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		return fmt.Errorf("stopping: %w", err)
	}
	if _, err := m.runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		return fmt.Errorf("removing: %w", err)
	}
	return nil
}

// sweep removes sandboxes of this monitor that an earlier run left behind
// (it was killed mid-cycle). Failing to is logged: the check can still run.
func (m *Monitor) sweep(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, m.CleanupTimeout)
	defer cancel()
	resp, err := m.runtime.ListPodSandbox(lctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		m.Logf("listing sandboxes left behind: %v", err)
		return
	}
	for _, sb := range resp.GetItems() {
		if md := sb.GetMetadata(); md.GetNamespace() != m.Namespace || md.GetName() != SandboxName {
			continue
		}
		if err := m.removeSandbox(ctx, sb.GetId()); err != nil {
			m.Logf("removing sandbox %s left behind: %v", sb.GetId(), err)
			continue
		}
		m.Logf("removed sandbox %s left behind by an earlier run", sb.GetId())
	}
}

// randomHex is 32 random hex digits, a sandbox's unique part.
func randomHex() string {
	var b [16]byte
	crand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}
