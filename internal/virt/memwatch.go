package virt

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// WatchMemory samples the cluster's memory samples times, one every
// interval from the first (taken at once), and prints one line per
// sample: time since the first, the cluster's PSS, and each node's, in
// MiB. A cluster at rest should level off; at the end it says by how much
// the total moved, and which programs grew most between the first sample
// and the last, since what creeps is what to look at. A sample that fails
// ends the watch with its error; ctx ending stops it early, with the
// summary of what was seen.
func WatchMemory(ctx context.Context, w io.Writer, every time.Duration, samples int, sample func() ([]NodeStatus, error)) error {
	if every <= 0 || samples < 1 {
		return fmt.Errorf("watching memory needs an interval above 0 and at least one sample (got %v, %d)", every, samples)
	}
	start := time.Now()
	var first, last []NodeStatus
	var lowest, highest int64
	for i := 0; i < samples; i++ {
		if i > 0 {
			t := time.NewTimer(time.Until(start.Add(time.Duration(i) * every)))
			select {
			case <-ctx.Done():
				t.Stop()
				summarizeWatch(w, first, last, lowest, highest)
				return nil
			case <-t.C:
			}
		}
		nodes, err := sample()
		if err != nil {
			return err
		}
		if first == nil {
			first = nodes
			fmt.Fprintf(w, "%8s  %7s", "ELAPSED", "CLUSTER")
			for _, n := range nodes {
				fmt.Fprintf(w, "  %10s", n.Hostname)
			}
			fmt.Fprintln(w, "   (PSS in MiB)")
		}
		last = nodes
		total, _ := programsPSS(nodes)
		if i == 0 || total < lowest {
			lowest = total
		}
		if total > highest {
			highest = total
		}
		fmt.Fprintf(w, "%8s  %7.0f", time.Since(start).Round(time.Second), mib(total))
		for _, n := range nodes {
			fmt.Fprintf(w, "  %10.0f", mib(n.Usage.PSS))
		}
		fmt.Fprintln(w)
	}
	summarizeWatch(w, first, last, lowest, highest)
	return nil
}

// summarizeWatch says how the total moved and which programs grew most.
func summarizeWatch(w io.Writer, first, last []NodeStatus, lowest, highest int64) {
	if first == nil {
		return
	}
	from, before := programsPSS(first)
	to, after := programsPSS(last)
	type growth struct {
		what  string
		bytes int64
	}
	var grew []growth
	for what, b := range after {
		if d := b - before[what]; d > 0 {
			grew = append(grew, growth{what, d})
		}
	}
	sort.Slice(grew, func(i, j int) bool {
		if grew[i].bytes != grew[j].bytes {
			return grew[i].bytes > grew[j].bytes
		}
		return grew[i].what < grew[j].what
	})
	fmt.Fprintf(w, "cluster: %.0f MiB first, %.0f last (%+.0f); lowest %.0f, highest %.0f\n",
		mib(from), mib(to), mib(to-from), mib(lowest), mib(highest))
	if len(grew) > 5 {
		grew = grew[:5]
	}
	var parts []string
	for _, g := range grew {
		parts = append(parts, fmt.Sprintf("%s %+.1f", g.what, mib(g.bytes)))
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "grew most (MiB): %s\n", strings.Join(parts, ", "))
	}
}

// programsPSS is the cluster's PSS and each program's, by "node program".
func programsPSS(nodes []NodeStatus) (total int64, programs map[string]int64) {
	programs = map[string]int64{}
	for _, n := range nodes {
		total += n.Usage.PSS
		for _, p := range n.Memory {
			programs[n.Hostname+" "+p.Name] += p.PSS
		}
	}
	return total, programs
}
