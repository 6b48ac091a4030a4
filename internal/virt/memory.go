package virt

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"homeworld.dev/homeworld/internal/launch"
	"homeworld.dev/homeworld/internal/supervise"
)

// ProgramMemory is the resident memory of one program on a node: a
// service of the service map, or the processes of a program in the node's
// pods (CoreDNS, the monitors).
type ProgramMemory struct {
	Name  string `json:"name"`
	Pod   bool   `json:"pod,omitempty"`
	Bytes int64  `json:"bytes"`
}

// nodeMemory is what the node's processes hold: everything in its network
// namespace (its services and their helpers) plus its pods' processes,
// which live in namespaces of their own but in the node's cgroup root.
func nodeMemory(n NodeTopo, svcs []supervise.Status) (int64, []ProgramMemory) {
	var total int64
	for _, p := range netnsPIDs(n.Netns) {
		total += rss(p)
	}
	var progs []ProgramMemory
	for _, s := range svcs {
		if s.PID != 0 {
			progs = append(progs, ProgramMemory{Name: s.Name, Bytes: rss(strconv.Itoa(s.PID))})
		}
	}
	pods := map[string]int64{}
	root := "/" + launch.CgroupRoot(n.Hostname) + "/"
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		cg, err := os.ReadFile(dir + "/cgroup")
		if err != nil || !strings.Contains(string(cg), root) {
			continue
		}
		comm, _ := os.ReadFile(dir + "/comm")
		b := rss(filepath.Base(dir))
		pods[strings.TrimSpace(string(comm))] += b
		total += b
	}
	for name, b := range pods {
		progs = append(progs, ProgramMemory{Name: name, Pod: true, Bytes: b})
	}
	sort.Slice(progs, func(i, j int) bool {
		if progs[i].Bytes != progs[j].Bytes {
			return progs[i].Bytes > progs[j].Bytes
		}
		return progs[i].Name < progs[j].Name
	})
	return total, progs
}

// printMemory lists each node's programs by resident memory.
func printMemory(w io.Writer, nodes []NodeStatus) {
	fmt.Fprintln(w, "\nMEMORY BY PROGRAM (MiB; pods marked *)")
	for _, n := range nodes {
		var parts []string
		for _, p := range n.Memory {
			mark := ""
			if p.Pod {
				mark = "*"
			}
			parts = append(parts, fmt.Sprintf("%s%s %.0f", p.Name, mark, float64(p.Bytes)/(1<<20)))
		}
		fmt.Fprintf(w, "%-11s %s\n", n.Hostname, strings.Join(parts, ", "))
	}
}
