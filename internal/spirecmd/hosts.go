package spirecmd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/remote"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/virt"
	"homeworld.dev/homeworld/internal/workspace"
)

// hostFlags are how a command that drives hosts over SSH learns which host
// keys to trust before the hosts have certificates.
type hostFlags struct {
	hostKeys string
}

func (f *hostFlags) register(c *cobra.Command) {
	c.PersistentFlags().StringVar(&f.hostKeys, "host-keys", "", "file of host key fingerprints you vouch for, one per line: HOST SHA256:... (a host not yet known is trusted if it offers one of them)")
}

// knownHostsPath is spire's own known_hosts, in the workspace: the keys it
// pinned and the line trusting the cluster's ssh-host authority.
func knownHostsPath(ws *workspace.Workspace) string { return ws.Dir + "/known_hosts" }

// hosts is an SSH session with a cluster's hosts: one connection per host,
// opened on first use.
type hosts struct {
	a       *app
	ws      *workspace.Workspace
	cfg     *config.Config
	rc      remote.Config
	clients map[string]*remote.Client
}

// connectHosts prepares SSH to the cluster's hosts as root: with the
// workspace's admin key and its certificate when it has a valid one,
// checking host keys against the workspace's known_hosts (the cluster's
// @cert-authority line included), the fingerprints vouched for, or, on a
// terminal, the operator's answer.
func (a *app) connectHosts(ws *workspace.Workspace, cfg *config.Config, f *hostFlags) (*hosts, error) {
	if err := virt.CheckReachable(ws.Dir, cfg, ""); err != nil {
		return nil, err
	}
	signers, err := adminSigners(ws)
	if err != nil {
		return nil, err
	}
	known := knownHostsPath(ws)
	if err := trustHostAuthority(ws, cfg, known); err != nil {
		return nil, err
	}
	hk := remote.HostKeys{KnownHosts: known, HowToVouch: "pass --host-keys FILE with a line HOST SHA256:... from the host's console (spire virt up --hosts systemd writes virt/host-keys), or run spire on a terminal to confirm it"}
	if f != nil && f.hostKeys != "" {
		if hk.Fingerprints, err = readFingerprints(f.hostKeys, cfg); err != nil {
			return nil, err
		}
	}
	if in, ok := a.Stdin.(*os.File); ok && term.IsTerminal(int(in.Fd())) {
		hk.Confirm = a.confirmHostKey
	}
	return &hosts{a: a, ws: ws, cfg: cfg, clients: map[string]*remote.Client{},
		rc: remote.Config{User: "root", Signers: signers, HostKeys: hk}}, nil
}

// adminSigners are the workspace's admin key and, when spire access ssh
// certified it, its certificate (offered first).
func adminSigners(ws *workspace.Workspace) ([]ssh.Signer, error) {
	keyPath := access.SSHKeyPath(ws.Dir)
	if _, err := access.LoadOrCreateSSHKey(keyPath); err != nil {
		return nil, err
	}
	signers, err := remote.LoadSigners(keyPath)
	if err != nil {
		return nil, err
	}
	// An expired certificate would only be refused: offer the key alone.
	if cert, ok := signers[0].PublicKey().(*ssh.Certificate); ok && !access.SSHCertValid(cert) {
		signers = signers[1:]
	}
	return signers, nil
}

// confirmHostKey asks the operator about a host key nothing vouches for.
func (a *app) confirmHostKey(h remote.Host, fingerprint string) (bool, error) {
	fmt.Fprintf(a.Stderr, "The host key of %s (%s) is not known.\nIt offers %s.\nCompare it with the host's console (or the installer's list) and type yes to trust it: ", h.Name, h.Addr, fingerprint)
	line, err := bufio.NewReader(a.Stdin).ReadString('\n')
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(line) == "yes", nil
}

// readFingerprints reads a file of vouched host keys: "HOST SHA256:..."
// per line (HOST a node's name, FQDN or address), blank lines and
// #-comments ignored; `ssh-keygen -l` lines ("256 SHA256:... comment
// (ED25519)") are taken to be the supervisor's, as the original's
// pull-supervisor-key read them.
func readFingerprints(path string, cfg *config.Config) (map[string][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for i, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) < 2 || !strings.HasPrefix(fields[1], "SHA256:") {
			return nil, fmt.Errorf("%s:%d: want HOST SHA256:FINGERPRINT, got %q", path, i+1, line)
		}
		n, ok := cfg.FindNode(fields[0])
		if !ok {
			if _, err := fmt.Sscan(fields[0], new(int)); err != nil {
				return nil, fmt.Errorf("%s:%d: %q is not a node of setup.yaml", path, i+1, fields[0])
			}
			n = cfg.Supervisor()
		}
		out[cfg.FQDN(n)] = append(out[cfg.FQDN(n)], fields[1])
	}
	return out, nil
}

// dial returns the connection to node n.
func (hs *hosts) dial(ctx context.Context, n config.Node) (*remote.Client, error) {
	if c, ok := hs.clients[n.Hostname]; ok {
		return c, nil
	}
	// The FQDN is what the node's host certificate names.
	h := remote.Host{Name: hs.cfg.FQDN(n), Addr: services.SSH.Addr(n.IP)}
	c, err := remote.Dial(ctx, h, hs.rc)
	if err != nil {
		return nil, err
	}
	hs.clients[n.Hostname] = c
	return c, nil
}

// reloadSigners picks up a certificate written since connectHosts.
func (hs *hosts) reloadSigners() error {
	s, err := adminSigners(hs.ws)
	if err != nil {
		return err
	}
	hs.rc.Signers = s
	return nil
}

func (hs *hosts) Close() {
	for _, c := range hs.clients {
		c.Close()
	}
}

// nodesOf resolves the command line's NODE arguments (or every node of
// kinds when none are given).
func nodesOf(cfg *config.Config, args []string, kinds ...config.Kind) ([]config.Node, error) {
	if len(args) == 0 {
		var out []config.Node
		for _, n := range cfg.Nodes {
			for _, k := range kinds {
				if n.Kind == k {
					out = append(out, n)
				}
			}
		}
		return out, nil
	}
	var out []config.Node
	for _, a := range args {
		n, ok := cfg.FindNode(a)
		if !ok {
			return nil, fmt.Errorf("no node named %q in setup.yaml", a)
		}
		out = append(out, n)
	}
	return out, nil
}

// trustHostAuthority keeps the line trusting the cluster's ssh-host
// authority in spire's known_hosts: once a host has its certificate, that
// is how spire knows it.
func trustHostAuthority(ws *workspace.Workspace, cfg *config.Config, known string) error {
	set, err := authority.NewStore(ws.Dir).LoadPublic()
	if err != nil {
		return err
	}
	hostCA, err := set.Get(keyapi.SSHHost)
	if err != nil {
		return err
	}
	_, err = access.UpdateKnownHosts(known, cfg.Cluster.ExternalDomain, hostCA.SSHKey)
	return err
}
