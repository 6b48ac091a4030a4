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

// Memory is what processes hold, counted two ways. RSS counts every page a
// process maps, so pages shared with others (the same binary's text in five
// kubelets, the page cache of a file) count once per process: the figure a
// real host running only this node would need. PSS splits each shared page
// among the processes that map it, so the PSS of all nodes adds up to what
// the virtual cluster takes from this machine.
type Memory struct {
	RSS int64 `json:"rss_bytes"`
	PSS int64 `json:"pss_bytes"`
}

func (m *Memory) add(o Memory) { m.RSS += o.RSS; m.PSS += o.PSS }

// ProgramMemory is the memory of one program on a node: a service of the
// service map, or the processes of a program in the node's pods (CoreDNS,
// the monitors).
type ProgramMemory struct {
	Name string `json:"name"`
	Pod  bool   `json:"pod,omitempty"`
	Memory
}

// nodeMemory is what the node's processes hold: everything in its network
// namespace (its services and their helpers) plus its pods' processes,
// which live in namespaces of their own but in the node's cgroup root.
func nodeMemory(n NodeTopo, svcs []supervise.Status) (Memory, []ProgramMemory) {
	var total Memory
	for _, p := range netnsPIDs(n.Netns) {
		total.add(procMemory(p))
	}
	var progs []ProgramMemory
	for _, s := range svcs {
		if s.PID != 0 {
			progs = append(progs, ProgramMemory{Name: s.Name, Memory: procMemory(strconv.Itoa(s.PID))})
		}
	}
	pods := map[string]Memory{}
	root := "/" + launch.CgroupRoot(n.Hostname) + "/"
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		cg, err := os.ReadFile(dir + "/cgroup")
		if err != nil || !strings.Contains(string(cg), root) {
			continue
		}
		comm, _ := os.ReadFile(dir + "/comm")
		m := procMemory(filepath.Base(dir))
		name := strings.TrimSpace(string(comm))
		pm := pods[name]
		pm.add(m)
		pods[name] = pm
		total.add(m)
	}
	for name, m := range pods {
		progs = append(progs, ProgramMemory{Name: name, Pod: true, Memory: m})
	}
	sort.Slice(progs, func(i, j int) bool {
		if progs[i].PSS != progs[j].PSS {
			return progs[i].PSS > progs[j].PSS
		}
		return progs[i].Name < progs[j].Name
	})
	return total, progs
}

// procMemory reads a process's RSS and PSS from the kernel's summary of
// its mappings; zero when the process is gone.
func procMemory(pid string) Memory {
	data, err := os.ReadFile("/proc/" + pid + "/smaps_rollup")
	if err != nil {
		return Memory{}
	}
	var m Memory
	for _, line := range strings.Split(string(data), "\n") {
		field, v, ok := strings.Cut(line, ":")
		if !ok || (field != "Rss" && field != "Pss") {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if field == "Rss" {
			m.RSS = kb * 1024
		} else {
			m.PSS = kb * 1024
		}
	}
	return m
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// printMemory lists each node's programs by proportional memory, and the
// cluster's total.
func printMemory(w io.Writer, nodes []NodeStatus) {
	var total Memory
	for _, n := range nodes {
		total.add(n.Usage)
	}
	if total.RSS == 0 {
		return // nothing runs
	}
	fmt.Fprintln(w, "\nMEMORY BY PROGRAM (PSS in MiB; pods marked *)")
	for _, n := range nodes {
		if len(n.Memory) == 0 {
			continue
		}
		var parts []string
		for _, p := range n.Memory {
			mark := ""
			if p.Pod {
				mark = "*"
			}
			parts = append(parts, fmt.Sprintf("%s%s %.0f", p.Name, mark, mib(p.PSS)))
		}
		fmt.Fprintf(w, "%-11s %s\n", n.Hostname, strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "\ncluster: %.0f MiB of this machine's memory (PSS: pages shared between processes split among them); %.0f MiB RSS (shared pages counted in every process, as separate hosts would need them)\n", mib(total.PSS), mib(total.RSS))
}
