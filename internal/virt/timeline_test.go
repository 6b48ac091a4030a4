package virt

import (
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/supervise"
)

func TestPrintTimeline(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s float64) string {
		return start.Add(time.Duration(s * float64(time.Second))).Format(time.RFC3339Nano)
	}
	nodes := []NodeStatus{
		{Hostname: "supervisor", Services: []supervise.Status{
			{Name: "keyclient", Started: at(0.5), Ready: at(0.61)},
			{Name: "keyserver", Started: at(0.25), Ready: at(0.4), Restarts: 1},
		}},
		{Hostname: "master1", Services: []supervise.Status{
			{Name: "kube-apiserver", Started: at(1), Ready: at(11.2), Restarts: 2},
			{Name: "etcd", Started: at(0.9), Ready: at(3.1)},
			{Name: "kubelet", Started: at(12)},
			{Name: "kube-proxy"},
		}},
	}
	var b strings.Builder
	PrintTimeline(&b, nodes, start)
	want := "== timeline: seconds since up began, service started→ready\n" +
		"  supervisor  keyserver 0.2→0.4 (1 restart), keyclient 0.5→0.6\n" +
		"  master1     etcd 0.9→3.1, kube-apiserver 1.0→11.2 (2 restarts), kubelet 12.0→…, kube-proxy not started\n"
	if b.String() != want {
		t.Errorf("timeline:\n%s\nwant:\n%s", b.String(), want)
	}
}
