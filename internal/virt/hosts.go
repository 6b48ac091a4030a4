package virt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/virt/nspawn"
)

// The second way to run a virtual cluster: every node a systemd host, a
// systemd-nspawn container of a Debian 12 root with systemd as PID 1 and a
// real sshd, on the same bridge and addresses as the fast path. Nothing of
// Homeworld is on the hosts: spire installs it from the apt branch, which
// this machine serves on its bridge address, and sets the hosts up over
// SSH exactly as on bare metal. The fast path (namespaces and virtnode)
// stays the quick way to run the cluster; this one proves the production
// path: packages, units under real systemd, spire over SSH.

// HostsOptions describe systemd hosts to boot.
type HostsOptions struct {
	Workspace string
	Config    *config.Config
	// Branch is a folder `spire branch build` published; it is served at
	// BranchURL(t) while the hosts run.
	Branch string
	// AuthorizedKey is root's authorized_keys on every host: the admin's
	// SSH key, until spire setup supervisor-ssh allows certificates only.
	AuthorizedKey []byte
	Spire         string // the spire binary, which serves the branch
	BinDir        string // Homeworld's build: coredns for the cluster's upstream resolver
	Out           io.Writer
}

// BranchPort is where this machine serves the apt branch on its bridge
// address to systemd hosts.
const BranchPort = 8079

// BranchURL is the address systemd hosts fetch the apt branch from.
func BranchURL(t *Topology) string {
	return fmt.Sprintf("http://%s:%d/", t.Gateway.Addr(), BranchPort)
}

// HostKeysFile lists each host's SSH host key fingerprints, as the
// original's installer printed them on the console: the operator (or spire
// access pull-supervisor-key) checks the keys hosts offer against it.
func (t *Topology) HostKeysFile() string { return filepath.Join(t.Dir, "host-keys") }

func (n NodeTopo) nspawnHost(fqdn string, hosts, authorized []byte) nspawn.Host {
	return nspawn.Host{Name: n.Hostname, FQDN: fqdn, Netns: "/run/netns/" + n.Netns,
		Dir: n.Dir, AuthorizedKeys: authorized, Hosts: hosts}
}

// HostsPreflight checks what UpHosts needs before it changes anything.
func HostsPreflight(o HostsOptions) error {
	if os.Geteuid() != 0 {
		return errors.New("systemd hosts need root: they are containers in network namespaces (run spire with sudo)")
	}
	for _, tool := range []string{"ip", "systemd-nspawn", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is required (apt-get install iproute2 systemd-container util-linux)", tool)
		}
	}
	if _, err := os.Stat(filepath.Join(o.Branch, "dists")); err != nil {
		return fmt.Errorf("--branch %s is not a published apt branch (no dists/): build one with spire branch build --url http://GATEWAY:%d/ (GATEWAY: the first address of cidr-nodes)", o.Branch, BranchPort)
	}
	return nil
}

// UpHosts boots every node of setup.yaml as a systemd host and serves the
// apt branch to them. It installs nothing: that is spire's job over SSH.
func UpHosts(ctx context.Context, o HostsOptions) (err error) {
	if err := HostsPreflight(o); err != nil {
		return err
	}
	t, err := NewTopology(o.Workspace, o.Config)
	if err != nil {
		return err
	}
	st, err := loadState(t)
	if err != nil {
		return err
	}
	if st.exists() && st.Mode != ModeSystemd {
		return fmt.Errorf("a virtual cluster of namespaces is up for this workspace: take it down first (spire virt down)")
	}
	if !st.exists() {
		if err := checkHostOverlap(t, o.Out); err != nil {
			return err
		}
	}
	if err := MarkVirtual(o.Workspace); err != nil {
		return err
	}
	start := time.Now()
	step := func(format string, args ...any) {
		fmt.Fprintf(o.Out, "== %s (%.1fs)\n", fmt.Sprintf(format, args...), time.Since(start).Seconds())
	}
	defer func() {
		if err != nil {
			fmt.Fprintf(o.Out, "== boot failed; removing what it made (consoles kept in %s)\n", keepLogs(t))
			if derr := Down(t, io.Discard); derr != nil {
				err = fmt.Errorf("%w; cleaning up also failed: %v", err, derr)
			}
		}
	}()
	st.Mode = ModeSystemd
	if err := st.save(); err != nil {
		return err
	}
	step("host root image (made once, cached)")
	image, err := nspawn.EnsureImage(ctx, o.Out)
	if err != nil {
		return err
	}
	if !linkExists(t.Bridge) {
		step("creating network: bridge %s (%s), %d namespaces", t.Bridge, t.Gateway, len(t.Nodes))
		if err := createNetwork(t, st); err != nil {
			return err
		}
	}
	step("serving the apt branch %s at %s", o.Branch, BranchURL(t))
	if err := startBranchServer(t, st, o); err != nil {
		return err
	}
	step("starting the cluster DNS's upstream resolver on %s", t.Gateway.Addr())
	if err := startUpstreamDNS(ctx, t, st, o.BinDir); err != nil {
		return err
	}
	hosts := hostsFile(t, o.Config)
	var keys strings.Builder
	for _, n := range t.Nodes {
		step("booting %s (%s, %s)", n.Hostname, n.Kind, n.IP)
		r, err := nspawn.Boot(ctx, n.nspawnHost(o.Config.FQDN(n.Node), hosts, o.AuthorizedKey), image)
		if err != nil {
			return fmt.Errorf("booting %s: %w", n.Hostname, err)
		}
		st.Nodes[n.Hostname] = r.PID
		if err := st.save(); err != nil {
			return err
		}
		for _, k := range r.HostKeys {
			fmt.Fprintf(&keys, "%s %s %s\n", o.Config.FQDN(n.Node), k.Fingerprint, k.Type)
		}
	}
	if err := os.WriteFile(t.HostKeysFile(), []byte(keys.String()), 0o644); err != nil {
		return err
	}
	step("%d systemd hosts running; their SSH host keys are listed in %s", len(t.Nodes), t.HostKeysFile())
	return nil
}

// hostsFile is every host's /etc/hosts: the nodes, and the registry's
// name, by which containerd finds it (real sites: DNS).
func hostsFile(t *Topology, c *config.Config) []byte {
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	for _, n := range t.Nodes {
		hosts += fmt.Sprintf("%s\t%s %s\n", n.IP, c.FQDN(n.Node), n.Hostname)
	}
	hosts += fmt.Sprintf("%s\t%s\n", t.nodeByKind(config.KindSupervisor).IP, policy.RegistryName)
	return []byte(hosts)
}

// bootHost boots one systemd host again (spire virt start) with the root
// it had. The hosts were booted without authorized keys (UpHosts is never
// given one by spire), and so is this one.
func bootHost(t *Topology, st *State, n NodeTopo, c *config.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), nspawn.BootTimeout)
	defer cancel()
	image, err := nspawn.EnsureImage(ctx, io.Discard)
	if err != nil {
		return err
	}
	r, err := nspawn.Boot(ctx, n.nspawnHost(c.FQDN(n.Node), hostsFile(t, c), nil), image)
	if err != nil {
		return fmt.Errorf("booting %s: %w", n.Hostname, err)
	}
	st.Nodes[n.Hostname] = r.PID
	return st.save()
}

// stopHosts powers the systemd hosts off cleanly (Down then removes what
// is left, as for the fast path).
func stopHosts(t *Topology, out io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, n := range t.Nodes {
		if err := nspawn.Stop(ctx, n.nspawnHost("", nil, nil)); err != nil {
			fmt.Fprintf(out, "stopping %s: %v\n", n.Hostname, err)
		}
	}
}

// SystemdHosts reports whether the workspace's virtual cluster is one of
// systemd hosts, which spire drives over SSH like real ones.
func SystemdHosts(workspace string, c *config.Config) bool {
	t, err := NewTopology(workspace, c)
	if err != nil {
		return false
	}
	st, err := loadState(t)
	return err == nil && st.Mode == ModeSystemd
}
