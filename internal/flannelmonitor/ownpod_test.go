package flannelmonitor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestAwaitAddresses: a monitor that reads its pod before the kubelet has
// reported the pod's address waits for it instead of exiting; one that
// never gets it says which address is missing.
func TestAwaitAddresses(t *testing.T) {
	f, api := newFakeAPIServer(t)
	early := fakePod{name: "m-a", namespace: ns, app: MonitorApp, phase: "Running", hostIP: node1}
	f.set(nil, []fakePod{early})
	self, err := api.GetPod(context.Background(), ns, "m-a")
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	reported := func(format string, args ...any) {
		logs = append(logs, fmt.Sprintf(format, args...))
		// the kubelet reports the address while the monitor waits
		f.set(nil, []fakePod{running("m-a", MonitorApp, "10.32.1.4", node1)})
	}
	got, err := awaitAddresses(context.Background(), api, self, 10*time.Millisecond, time.Minute, reported)
	if err != nil || got.PodIP != "10.32.1.4" || got.HostIP != node1 {
		t.Fatalf("awaitAddresses = %+v, %v; want the reported addresses", got, err)
	}
	if len(logs) != 1 || !strings.Contains(logs[0], `waiting for Kubernetes to report pod kube-system/m-a's addresses (status.podIP ""`) {
		t.Errorf("logged %q; want one line saying what it waits for", logs)
	}

	// Addresses already there: no wait, no read, no log.
	logs = nil
	if _, err := awaitAddresses(context.Background(), api, got, time.Hour, time.Minute, reported); err != nil || logs != nil {
		t.Errorf("with addresses: %v, logged %q", err, logs)
	}

	f.set(nil, []fakePod{early})
	_, err = awaitAddresses(context.Background(), api, self, 10*time.Millisecond, 200*time.Millisecond, func(string, ...any) {})
	if err == nil || !strings.Contains(err.Error(), `pod kube-system/m-a: Kubernetes reported no pod address or no host address in 200ms (status.podIP ""`) {
		t.Errorf("never reported: %v", err)
	}
}
