package virt

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// fakeSamples is a cluster of two nodes whose kubelet on w1 grows by
// 1 MiB a sample while everything else stays put.
func fakeSamples() func() ([]NodeStatus, error) {
	i := int64(0)
	return func() ([]NodeStatus, error) {
		kubelet := (30 + i) << 20
		i++
		return []NodeStatus{
			{Hostname: "m1", Usage: Memory{PSS: 400 << 20}, Memory: []ProgramMemory{{Name: "etcd", Memory: Memory{PSS: 400 << 20}}}},
			{Hostname: "w1", Usage: Memory{PSS: 170<<20 + kubelet}, Memory: []ProgramMemory{
				{Name: "kubelet", Memory: Memory{PSS: kubelet}}, {Name: "containerd", Memory: Memory{PSS: 170 << 20}}}},
		}, nil
	}
}

// TestWatchMemoryPrintsEachSampleAndWhatGrew: one line per sample with
// the total and each node, then how the total moved and what grew.
func TestWatchMemoryPrintsEachSampleAndWhatGrew(t *testing.T) {
	var b strings.Builder
	if err := WatchMemory(context.Background(), &b, time.Millisecond, 4, fakeSamples()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 1+4+2 {
		t.Fatalf("%d lines, want a header, 4 samples and 2 of summary:\n%s", len(lines), b.String())
	}
	if f := strings.Fields(lines[0]); len(f) < 4 || f[0] != "ELAPSED" || f[1] != "CLUSTER" || f[2] != "m1" || f[3] != "w1" {
		t.Errorf("header %q", lines[0])
	}
	for i, want := range []string{"600", "601", "602", "603"} {
		f := strings.Fields(lines[1+i])
		if len(f) != 4 || f[1] != want || f[2] != "400" {
			t.Errorf("sample %d: %q, want cluster %s MiB and m1 400", i, lines[1+i], want)
		}
	}
	if want := "cluster: 600 MiB first, 603 last (+3); lowest 600, highest 603"; lines[5] != want {
		t.Errorf("summary %q, want %q", lines[5], want)
	}
	if want := "grew most (MiB): w1 kubelet +3.0"; lines[6] != want {
		t.Errorf("growth %q, want %q", lines[6], want)
	}
}

// TestWatchMemoryStopsWhenAsked: an interrupted watch still says what it
// saw; a failed sample ends it with the error.
func TestWatchMemoryStopsWhenAsked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sample := fakeSamples()
	calls := 0
	var b strings.Builder
	done := make(chan error)
	go func() {
		done <- WatchMemory(ctx, &b, time.Hour, 10, func() ([]NodeStatus, error) {
			calls++
			defer cancel() // the first sample is taken at once, then the watch waits an hour
			return sample()
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not stop when its context ended")
	}
	if calls != 1 || !strings.Contains(b.String(), "cluster: 600 MiB first, 600 last (+0)") {
		t.Errorf("%d samples, output:\n%s", calls, b.String())
	}

	boom := errors.New("node supervisor unreachable")
	err := WatchMemory(context.Background(), &b, time.Millisecond, 3, func() ([]NodeStatus, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Errorf("a failed sample returned %v", err)
	}
	if err := WatchMemory(context.Background(), &b, 0, 3, sample); err == nil {
		t.Error("an interval of 0 was accepted")
	}
}
