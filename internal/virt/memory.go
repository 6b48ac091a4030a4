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
// service map, the processes of a program in the node's pods (CoreDNS, the
// monitors), or, Other, the node's processes of one command that are
// neither: the pods' containerd shims, a pull check's ctr and runc, the
// SSH sessions of a login, the node process itself. Those come and go, so
// a reading that caught a check running says so.
type ProgramMemory struct {
	Name  string `json:"name"`
	Pod   bool   `json:"pod,omitempty"`
	Other bool   `json:"other,omitempty"`
	Memory
}

// nodeMemory is what the node's processes hold: everything in its network
// namespace (its services and their helpers) plus its pods' processes,
// which live in namespaces of their own but in the node's cgroup root.
// Each process is read once, so the programs add up to the total.
func nodeMemory(n NodeTopo, svcs []supervise.Status) (Memory, []ProgramMemory) {
	service := map[string]string{} // pid → service
	for _, s := range svcs {
		if s.PID != 0 {
			service[strconv.Itoa(s.PID)] = s.Name
		}
	}
	var progs []ProgramMemory
	counted := map[string]bool{}
	pods, others := map[string]Memory{}, map[string]Memory{}
	for _, p := range netnsPIDs(n.Netns) {
		counted[p] = true
		m := procMemory(p)
		if name, ok := service[p]; ok {
			progs = append(progs, ProgramMemory{Name: name, Memory: m})
			continue
		}
		add(others, command(p), m)
	}
	for pid, name := range service {
		if !counted[pid] { // it left the namespace, or entered it just now
			counted[pid] = true
			progs = append(progs, ProgramMemory{Name: name, Memory: procMemory(pid)})
		}
	}
	root := "/" + launch.CgroupRoot(n.Hostname) + "/"
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		pid := filepath.Base(dir)
		if counted[pid] {
			continue
		}
		cg, err := os.ReadFile(dir + "/cgroup")
		if err != nil || !strings.Contains(string(cg), root) {
			continue
		}
		add(pods, command(pid), procMemory(pid))
	}
	for name, m := range pods {
		progs = append(progs, ProgramMemory{Name: name, Pod: true, Memory: m})
	}
	for name, m := range others {
		progs = append(progs, ProgramMemory{Name: name, Other: true, Memory: m})
	}
	var total Memory
	for _, p := range progs {
		total.add(p.Memory)
	}
	sort.Slice(progs, func(i, j int) bool {
		if progs[i].PSS != progs[j].PSS {
			return progs[i].PSS > progs[j].PSS
		}
		return progs[i].Name < progs[j].Name
	})
	return total, progs
}

// add adds m to by[name], unless m is nothing (the process had gone).
func add(by map[string]Memory, name string, m Memory) {
	if m.RSS == 0 && m.PSS == 0 {
		return
	}
	sum := by[name]
	sum.add(m)
	by[name] = sum
}

// command is a process's command name, as the kernel keeps it (15 bytes).
func command(pid string) string {
	comm, _ := os.ReadFile("/proc/" + pid + "/comm")
	return strings.TrimSpace(string(comm))
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
	fmt.Fprintln(w, "\nMEMORY BY PROGRAM (PSS in MiB; pods marked *; + the node's other processes, by command: pods' shims, a pull check's ctr and runc, logins)")
	for _, n := range nodes {
		if len(n.Memory) == 0 {
			continue
		}
		var parts []string
		for _, p := range n.Memory {
			mark := ""
			switch {
			case p.Pod:
				mark = "*"
			case p.Other:
				mark = "+"
			}
			parts = append(parts, fmt.Sprintf("%s%s %.0f", p.Name, mark, mib(p.PSS)))
		}
		fmt.Fprintf(w, "%-11s %s\n", n.Hostname, strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "\ncluster: %.0f MiB of this machine's memory (PSS: pages shared between processes split among them); %.0f MiB RSS (shared pages counted in every process, as separate hosts would need them)\n", mib(total.PSS), mib(total.RSS))
}
