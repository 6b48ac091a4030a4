package virt

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// PrintTimeline writes, one line per node, when each of its services
// started and became ready, in seconds since start, in the order they
// became ready: where spire virt up spends its time. A service still
// starting shows "…"; restarts are counted.
func PrintTimeline(w io.Writer, nodes []NodeStatus, start time.Time) {
	since := func(stamp string) (float64, bool) {
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			return 0, false
		}
		return at.Sub(start).Seconds(), true
	}
	width := 0
	for _, n := range nodes {
		width = max(width, len(n.Hostname))
	}
	fmt.Fprintf(w, "== timeline: seconds since up began, service started→ready\n")
	for _, n := range nodes {
		type entry struct {
			text  string
			ready float64
		}
		var entries []entry
		for _, s := range n.Services {
			started, ok := since(s.Started)
			if !ok {
				entries = append(entries, entry{s.Name + " not started", 1e9})
				continue
			}
			text := fmt.Sprintf("%s %.1f→", s.Name, started)
			ready, ok := since(s.Ready)
			if ok {
				text += fmt.Sprintf("%.1f", ready)
			} else {
				text, ready = text+"…", 1e9
			}
			switch {
			case s.Restarts == 1:
				text += " (1 restart)"
			case s.Restarts > 1:
				text += fmt.Sprintf(" (%d restarts)", s.Restarts)
			}
			entries = append(entries, entry{text, ready})
		}
		slices.SortStableFunc(entries, func(a, b entry) int {
			switch {
			case a.ready < b.ready:
				return -1
			case a.ready > b.ready:
				return 1
			}
			return 0
		})
		texts := make([]string, len(entries))
		for i, e := range entries {
			texts[i] = e.text
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, n.Hostname, strings.Join(texts, ", "))
	}
}
