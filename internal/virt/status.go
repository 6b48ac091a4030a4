package virt

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/supervise"
)

// NodeStatus is one node as status reports it.
type NodeStatus struct {
	Hostname string             `json:"hostname"`
	Kind     string             `json:"kind"`
	IP       string             `json:"ip"`
	PID      int                `json:"pid,omitempty"`
	Running  bool               `json:"running"`
	Services []supervise.Status `json:"services,omitempty"`
	Usage    Memory             `json:"usage"` // all processes of the node, its pods included
	Memory   []ProgramMemory    `json:"memory,omitempty"`
	Error    string             `json:"error,omitempty"`
}

// Status reads each node's state from its node supervisor, and what each
// node's processes use of memory.
func Status(t *Topology) ([]NodeStatus, error) { return status(t, true) }

// status leaves memory out on request: adding it up reads every process's
// smaps, which up's wait for active services repeated twice a second while
// the cluster was starting and short of CPU.
func status(t *Topology, memory bool) ([]NodeStatus, error) {
	st, err := loadState(t)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 2 * time.Second}
	var out []NodeStatus
	for _, n := range t.Nodes {
		ns := NodeStatus{Hostname: n.Hostname, Kind: string(n.Kind), IP: n.IP, PID: st.Nodes[n.Hostname]}
		ns.Running = ns.PID != 0 && supervise.Alive(ns.PID)
		if ns.Running && st.Mode != ModeSystemd {
			// Under systemd the services' states are in verify services.
			url := services.NodeSupervisor.URL(n.IP, "/status")
			resp, err := client.Get(url)
			if err == nil {
				err = json.NewDecoder(resp.Body).Decode(&ns.Services)
				resp.Body.Close()
			}
			if err != nil {
				ns.Error = err.Error()
			}
		}
		if ns.Running && memory {
			ns.Usage, ns.Memory = nodeMemory(n, ns.Services)
		}
		out = append(out, ns)
	}
	return out, nil
}

// PrintStatus renders statuses as a table.
func PrintStatus(w io.Writer, nodes []NodeStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tKIND\tADDRESS\tNODE PROCESS\tPSS (RSS)\tSERVICES")
	for _, n := range nodes {
		proc := "stopped"
		if n.Running {
			proc = fmt.Sprintf("running (pid %d)", n.PID)
		}
		var svcs []string
		for _, s := range n.Services {
			entry := s.Name + "=" + s.State
			if s.Restarts > 0 {
				entry += fmt.Sprintf(" (%d restarts)", s.Restarts)
			}
			svcs = append(svcs, entry)
		}
		if n.Error != "" {
			svcs = append(svcs, "unreachable: "+n.Error)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f (%.0f) MiB\t%s\n", n.Hostname, n.Kind, n.IP, proc, mib(n.Usage.PSS), mib(n.Usage.RSS), strings.Join(svcs, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printMemory(w, nodes)
	return nil
}
