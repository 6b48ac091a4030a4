package spirecmd

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/hostsetup"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keyserver"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/remote"
	"homeworld.dev/homeworld/internal/services"
)

// sshHelp ends the help of every command that drives hosts over SSH.
const sshHelp = `

spire logs in as root over SSH with the workspace's admin key (ssh-key) and,
once 'spire access ssh' certified it, its certificate. It checks host keys
against the workspace's known_hosts: the cluster's ssh-host authority for
hosts that have their certificate, and keys pinned before that (with
'spire access pull-supervisor-key', --host-keys FILE, or your answer on a
terminal). Every step is idempotent: re-running changes and restarts
nothing that is already right.`

func (a *app) setupCommand() *cobra.Command {
	var root string
	var f keyserverFlags
	var hf hostFlags
	keyserverCmd := &cobra.Command{
		Use:   "keyserver",
		Short: "Install and start the keyserver on the supervisor (setup.yaml, unsealed authorities)",
		Long: `Install what the keyserver reads on the supervisor: setup.yaml into
/etc/homeworld/config/ and the authorities, unsealed with the disaster key,
into /etc/homeworld/keyserver/authorities/ (private keys mode 0600, folder
0700), then enable keyserver.service and (re)start it when a file changed,
waiting until it serves. The supervisor is the only place authority keys
exist in clear. With --root the files are written below a local folder
instead (a node's root as another machine sees it), and nothing is started.` + sshHelp,
		Example: `  spire setup keyserver
  spire setup keyserver --root /srv/supervisor-root`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := a.workspace()
			if err != nil {
				return err
			}
			cfg, err := a.config(ws)
			if err != nil {
				return err
			}
			key, err := a.disasterKey()
			if err != nil {
				return err
			}
			set, err := authority.NewStore(ws.Dir).Load(key)
			if err != nil {
				return err
			}
			setup, err := os.ReadFile(ws.SetupPath())
			if err != nil {
				return err
			}
			if root != "" {
				if err := keyserver.Install(layout.Node{Root: root}, setup, set); err != nil {
					return err
				}
				fmt.Fprintf(a.Stdout, "installed setup.yaml and %d authorities below %s\n", len(set.List), root)
				return nil
			}
			hs, err := a.connectHosts(ws, cfg, &hf)
			if err != nil {
				return err
			}
			defer hs.Close()
			return a.setupKeyserver(cmd.Context(), hs, setup, set)
		},
	}
	keyserverCmd.Flags().StringVar(&root, "root", "", "write the files below this local folder instead of installing them over SSH")

	var all bool
	nodeCmd := &cobra.Command{
		Use:   "node NODE...|--all",
		Short: "Admit nodes: install their bootstrap files and token and start their services",
		Long: `Do what the installer does for each NODE, over SSH: write the keyserver's
name and the cluster CA the keyclient trusts it by, and (unless the node
already holds its identity) a fresh one-time admission token from the
keyserver; then enable and start every unit the service map runs on the
node's kind and wait until all are active. Once the keyclient has the node's
SSH host certificate, sshd presents it and only certificate logins remain
(root's authorized_keys moves to /root/original_authorized_keys).
--all admits every master and worker. With --root, only the bootstrap files
and token are written below a local folder (one node).` + sshHelp,
		Example: `  spire setup node --all
  spire setup node worker1 worker2`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if root != "" {
				if len(args) != 1 {
					return fmt.Errorf("--root takes exactly one NODE")
				}
				return a.setupNodeLocal(cmd.Context(), &f, args[0], root)
			}
			if all == (len(args) > 0) {
				return fmt.Errorf("name the nodes to admit, or --all for every master and worker")
			}
			return a.withAdminHosts(&f, &hf, func(s *adminSession, hs *hosts) error {
				nodes, err := nodesOf(s.cfg, args, config.KindMaster, config.KindWorker)
				if err != nil {
					return err
				}
				for _, n := range nodes {
					if err := a.admitHost(cmd.Context(), hs, s, n); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	nodeCmd.Flags().StringVar(&root, "root", "", "write one node's bootstrap files below this local folder instead of over SSH")
	nodeCmd.Flags().BoolVar(&all, "all", false, "every master and worker of setup.yaml")
	f.register(nodeCmd)

	selfAdmitCmd := &cobra.Command{
		Use:   "self-admit",
		Short: "Admit the supervisor itself and start its services",
		Long: `Admit the supervisor as 'spire setup node' admits the others: bootstrap
files, a one-time token from its own keyserver, then every unit of the
supervisor's kind enabled and started, waiting until all are active (the
original's self-admit, which also started the auth monitor).` + sshHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withAdminHosts(&f, &hf, func(s *adminSession, hs *hosts) error {
				return a.admitHost(cmd.Context(), hs, s, s.cfg.Supervisor())
			})
		},
	}
	f.register(selfAdmitCmd)

	supervisorSSHCmd := &cobra.Command{
		Use:   "supervisor-ssh",
		Short: "Make the supervisor's sshd present its host certificate and accept certificates only",
		Long: `Once the supervisor's keyclient holds its SSH host certificate: check
Homeworld's sshd drop-in with sshd -t, reload ssh, and move root's
authorized_keys to /root/original_authorized_keys, so only certificates
from the ssh-user authority ('spire access ssh') log in from then on.` + sshHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withAdminHosts(&f, &hf, func(s *adminSession, hs *hosts) error {
				return a.certificateSSH(cmd.Context(), hs, s, s.cfg.Supervisor())
			})
		},
	}
	f.register(supervisorSSHCmd)

	prometheusCmd := &cobra.Command{
		Use:   "prometheus",
		Short: "Enable and start Prometheus on the supervisor",
		Long: `Enable and start the supervisor's Prometheus unit (its configuration is
rendered from setup.yaml when it starts) and wait until it is active.` + sshHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			hs, err := a.connectHosts(ws, cfg, &hf)
			if err != nil {
				return err
			}
			defer hs.Close()
			return a.setupPrometheus(cmd.Context(), hs)
		},
	}
	subs := append([]*cobra.Command{keyserverCmd, selfAdmitCmd, supervisorSSHCmd, prometheusCmd, nodeCmd}, a.setupKeygatewayCommands(&hf)...)
	c := group("setup", "Set up the supervisor and admit nodes over SSH", subs...)
	hf.register(c)
	return c
}

// withAdminHosts runs fn as a connected admin with SSH to the hosts.
func (a *app) withAdminHosts(f *keyserverFlags, hf *hostFlags, fn func(*adminSession, *hosts) error) error {
	s, err := a.connectAdmin(f)
	if err != nil {
		return err
	}
	defer s.admin.Close()
	hs, err := a.connectHosts(s.ws, s.cfg, hf)
	if err != nil {
		return err
	}
	defer hs.Close()
	return fn(s, hs)
}

// setupKeyserver installs and starts the keyserver on the supervisor.
func (a *app) setupKeyserver(ctx context.Context, hs *hosts, setup []byte, set *authority.Set) error {
	sup := hs.cfg.Supervisor()
	c, err := hs.dial(ctx, sup)
	if err != nil {
		return err
	}
	changed, err := hostsetup.SetupKeyserver(ctx, c, setup, set)
	if err != nil {
		return &hostsetup.Error{Host: sup.Hostname, Step: "setting up the keyserver", Err: err}
	}
	fmt.Fprintf(a.Stdout, "%s: keyserver active (%s)\n", sup.Hostname, changedWord(changed, "files updated, restarted", "unchanged"))
	return nil
}

// admitHost admits node n over SSH and moves its sshd to certificates.
func (a *app) admitHost(ctx context.Context, hs *hosts, s *adminSession, n config.Node) error {
	c, err := hs.dial(ctx, n)
	if err != nil {
		return err
	}
	ca, err := s.auths.Get(keyapi.ClusterCA)
	if err != nil {
		return err
	}
	token := func(ctx context.Context) (string, error) { return s.admin.Admit(ctx, n.Hostname) }
	progress := func(msg string) { fmt.Fprintf(a.Stdout, "%s: %s\n", n.Hostname, msg) }
	if err := hostsetup.Admit(ctx, c, s.cfg, n, hostsetup.TrustFiles(s.cfg, ca.Cert), token, progress); err != nil {
		return &hostsetup.Error{Host: n.Hostname, Step: "admission", Err: err}
	}
	units, _ := hostsetup.Units(s.cfg, n)
	fmt.Fprintf(a.Stdout, "%s: admitted; %d units active\n", n.Hostname, len(units))
	if n.Kind == config.KindSupervisor {
		return nil // the supervisor moves to certificates with setup supervisor-ssh
	}
	return a.certificateSSH(ctx, hs, s, n)
}

// certificateSSH makes n's sshd present its host certificate and accept
// certificates only, then proves a certificate login works.
func (a *app) certificateSSH(ctx context.Context, hs *hosts, s *adminSession, n config.Node) error {
	c, err := hs.dial(ctx, n)
	if err != nil {
		return err
	}
	reloaded, err := hostsetup.UseHostCertificate(ctx, c)
	if err != nil {
		return &hostsetup.Error{Host: n.Hostname, Step: "SSH host certificate", Err: err}
	}
	// The admin certificate must work before the key alone stops working.
	if _, _, err := s.admin.WriteSSHCert(ctx, access.SSHKeyPath(s.ws.Dir)); err != nil {
		return err
	}
	if err := hs.reloadSigners(); err != nil {
		return err
	}
	if err := a.checkCertLogin(ctx, hs, n); err != nil {
		return err
	}
	moved, err := hostsetup.CertificateLoginsOnly(ctx, c)
	if err != nil {
		return &hostsetup.Error{Host: n.Hostname, Step: "certificate logins only", Err: err}
	}
	fmt.Fprintf(a.Stdout, "%s: sshd presents its host certificate (%s); %s\n", n.Hostname,
		changedWord(reloaded, "reloaded", "unchanged"), changedWord(moved, "authorized_keys moved aside: certificate logins only", "certificate logins only"))
	return nil
}

// checkCertLogin logs in to n afresh with the admin certificate only,
// verifying the host by its certificate, and runs a command (the
// original's verify ssh-with-certs).
func (a *app) checkCertLogin(ctx context.Context, hs *hosts, n config.Node) error {
	// Only the certificate, and only the ssh-host authority's line: a
	// pinned key must not stand in for the host's certificate.
	caOnly, err := os.CreateTemp("", "spire-known-hosts-")
	if err != nil {
		return err
	}
	defer os.Remove(caOnly.Name())
	caOnly.Close()
	if err := trustHostAuthority(hs.ws, hs.cfg, caOnly.Name()); err != nil {
		return err
	}
	cert := hs.rc.Signers[0] // adminSigners offers a valid certificate first
	if _, ok := cert.PublicKey().(*ssh.Certificate); !ok {
		return fmt.Errorf("%s: no valid admin SSH certificate to log in with (spire access ssh makes one)", n.Hostname)
	}
	h := remote.Host{Name: hs.cfg.FQDN(n), Addr: services.SSH.Addr(n.IP)}
	c, err := remote.Dial(ctx, h, remote.Config{Signers: []ssh.Signer{cert}, HostKeys: remote.HostKeys{KnownHosts: caOnly.Name()}})
	if err != nil {
		return fmt.Errorf("%s: logging in with the admin certificate: %w", n.Hostname, err)
	}
	defer c.Close()
	out, err := c.Run(ctx, "echo confirmed", nil)
	if err != nil {
		return err
	}
	if string(out) != "confirmed\n" {
		return fmt.Errorf("%s: echo confirmed printed %q", n.Hostname, out)
	}
	return nil
}

// setupPrometheus makes sure the supervisor's Prometheus runs.
func (a *app) setupPrometheus(ctx context.Context, hs *hosts) error {
	sup := hs.cfg.Supervisor()
	c, err := hs.dial(ctx, sup)
	if err != nil {
		return err
	}
	unit := []string{services.MustGet("prometheus").Unit()}
	if err := hostsetup.Enable(ctx, c, unit, nil, nil); err != nil {
		return &hostsetup.Error{Host: sup.Hostname, Step: "Prometheus", Err: err}
	}
	if err := hostsetup.WaitActive(ctx, c, unit, nil); err != nil {
		return &hostsetup.Error{Host: sup.Hostname, Step: "Prometheus", Err: err}
	}
	fmt.Fprintf(a.Stdout, "%s: prometheus active\n", sup.Hostname)
	return nil
}

// setupNodeLocal writes one node's bootstrap files below a local root.
func (a *app) setupNodeLocal(ctx context.Context, f *keyserverFlags, name, root string) error {
	s, err := a.connectAdmin(f)
	if err != nil {
		return err
	}
	defer s.admin.Close()
	if _, ok := s.cfg.FindNode(name); !ok {
		return fmt.Errorf("no node named %q in setup.yaml", name)
	}
	ca, err := s.auths.Get(keyapi.ClusterCA)
	if err != nil {
		return err
	}
	node := layout.Node{Root: root}
	if err := access.InstallTrust(node, s.cfg, ca.Cert); err != nil {
		return err
	}
	if err := s.admin.AdmitInto(ctx, node, name); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "installed bootstrap files for %s below %s\n", name, root)
	return nil
}

func changedWord(changed bool, yes, no string) string {
	if changed {
		return yes
	}
	return no
}
