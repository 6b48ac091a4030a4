package virt

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// ip runs iproute2's ip with args.
func ip(args ...string) error {
	cmd := exec.Command("ip", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// ipOut runs ip and returns its output.
func ipOut(args ...string) (string, error) {
	out, err := exec.Command("ip", args...).Output()
	return string(out), err
}

// linkExists reports whether a network interface exists in the host
// namespace.
func linkExists(name string) bool {
	return exec.Command("ip", "link", "show", "dev", name).Run() == nil
}

// netnsList returns the named network namespaces.
func netnsList() []string {
	out, err := ipOut("netns", "list")
	if err != nil {
		return nil
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// netnsPIDs returns the processes inside a named network namespace.
func netnsPIDs(name string) []string {
	out, err := ipOut("netns", "pids", name)
	if err != nil {
		return nil
	}
	return strings.Fields(out)
}

// createNetwork makes the bridge with the host's gateway address and, per
// node, a namespace with loopback up and eth0 on the bridge carrying the
// node's address.
func createNetwork(t *Topology, st *State) error {
	if !linkExists(t.Bridge) {
		if err := ip("link", "add", t.Bridge, "type", "bridge"); err != nil {
			return fmt.Errorf("creating bridge (is the bridge kernel module available?): %w", err)
		}
	}
	st.Bridge = t.Bridge
	if err := st.save(); err != nil {
		return err
	}
	if err := ip("addr", "replace", t.Gateway.String(), "dev", t.Bridge); err != nil {
		return err
	}
	if err := ip("link", "set", t.Bridge, "up"); err != nil {
		return err
	}
	for _, n := range t.Nodes {
		if err := ip("netns", "add", n.Netns); err != nil {
			return fmt.Errorf("creating network namespace for %s: %w", n.Hostname, err)
		}
		st.Netns = append(st.Netns, n.Netns)
		if err := st.save(); err != nil {
			return err
		}
		peer := "hwp" + n.Veth[3:]
		steps := [][]string{
			{"link", "add", n.Veth, "type", "veth", "peer", "name", peer},
			{"link", "set", peer, "netns", n.Netns},
			{"-n", n.Netns, "link", "set", peer, "name", "eth0"},
			{"-n", n.Netns, "addr", "add", fmt.Sprintf("%s/%d", n.IP, t.Gateway.Bits()), "dev", "eth0"},
			{"-n", n.Netns, "link", "set", "eth0", "up"},
			{"-n", n.Netns, "link", "set", "lo", "up"},
			{"-n", n.Netns, "route", "add", "default", "via", t.Gateway.Addr().String()},
			{"link", "set", n.Veth, "master", t.Bridge},
			{"link", "set", n.Veth, "up"},
		}
		for i, s := range steps {
			if err := ip(s...); err != nil {
				return fmt.Errorf("network of %s: %w", n.Hostname, err)
			}
			if i == 0 {
				st.Veths = append(st.Veths, n.Veth)
				if err := st.save(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
