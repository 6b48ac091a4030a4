package virt

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/supervise"
	"homeworld.dev/homeworld/internal/virt/nspawn"
)

// nodeStopGrace is how long a node process gets to stop its services in
// order (each has its own stop timeout) before it is killed.
const nodeStopGrace = 30 * time.Second

// StopNode stops one node's services and its node process, keeping its
// network and files, as if the machine were switched off.
func StopNode(t *Topology, host string) error {
	n, st, err := t.node(host)
	if err != nil {
		return err
	}
	pid := st.Nodes[n.Hostname]
	if st.Mode == ModeSystemd {
		// systemd shuts the host down as a machine's would.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := nspawn.Stop(ctx, n.nspawnHost("", nil, nil)); err != nil {
			return err
		}
	} else {
		if !isVirtnode(pid) {
			return fmt.Errorf("%s is not running", host)
		}
		supervise.Stop(supervise.Process{PID: pid}, nodeStopGrace)
		// Containers outlive the node process (their shims are its
		// grandchildren, reparented when it exits): a machine switched
		// off takes them down too.
		if err := switchOff(n); err != nil {
			return fmt.Errorf("stopping what %s left running: %w", host, err)
		}
	}
	delete(st.Nodes, n.Hostname)
	return st.save()
}

// StartNode starts a stopped node again with the files it had.
func StartNode(t *Topology, host string, o Options) error {
	n, st, err := t.node(host)
	if err != nil {
		return err
	}
	if _, err := os.Stat("/run/netns/" + n.Netns); err != nil {
		return fmt.Errorf("the virtual cluster is not up (no namespace for %s); run spire virt up", host)
	}
	if st.Mode == ModeSystemd {
		return bootHost(t, st, n, o.Config)
	}
	if pid, ok := st.Nodes[n.Hostname]; ok && isVirtnode(pid) {
		return fmt.Errorf("%s is already running", host)
	}
	// A node process that died (killed, or stopped by an older spire)
	// can have left its containers running: the machine boots clean.
	if err := switchOff(n); err != nil {
		return fmt.Errorf("clearing what %s left running: %w", host, err)
	}
	return startNode(t, st, n, o)
}

func (t *Topology) node(host string) (NodeTopo, *State, error) {
	st, err := loadState(t)
	if err != nil {
		return NodeTopo{}, nil, err
	}
	for _, n := range t.Nodes {
		if n.Hostname == host {
			return n, st, nil
		}
	}
	return NodeTopo{}, nil, fmt.Errorf("no node named %q in setup.yaml", host)
}

// ServiceControl stops or starts one service of a node through its node
// supervisor; a stopped service stays stopped until started.
func ServiceControl(t *Topology, host, service, action string) error {
	n, _, err := t.node(host)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 40 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", n.ControlSocket())
		},
	}}
	resp, err := client.Post("http://node/services/"+service+"/"+action, "text/plain", nil)
	if err != nil {
		return fmt.Errorf("%s's node supervisor: %w", host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s", host, strings.TrimSpace(string(body)))
	}
	return nil
}
