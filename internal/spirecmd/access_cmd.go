package spirecmd

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/pki"
)

func (a *app) accessCommand() *cobra.Command {
	var f keyserverFlags
	var noAgent bool
	sshCmd := &cobra.Command{
		Use:   "ssh",
		Short: "Get a short-lived SSH certificate for logging in to nodes as root",
		Long: `Certify your SSH key (the workspace's ssh-key, made on first use and never
sent anywhere) for root logins on every node, for a few hours. The certificate
is written beside the key as ssh-key-cert.pub and, when an ssh-agent is
running, added to it with a matching lifetime. Run 'spire access
update-known-hosts' once so ssh trusts the nodes' host certificates.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.connectAdmin(&f)
			if err != nil {
				return err
			}
			defer s.admin.Close()
			keyPath := access.SSHKeyPath(s.ws.Dir)
			key, cert, err := s.admin.WriteSSHCert(cmd.Context(), keyPath)
			if err != nil {
				return err
			}
			until := pki.SSHExpiry(cert)
			fmt.Fprintf(a.Stdout, "SSH certificate for %s (principals %s) valid until %s\nwritten to %s-cert.pub\n",
				s.admin.Principal, strings.Join(cert.ValidPrincipals, ","), until.Local().Format(time.RFC1123), keyPath)
			if sock := a.getenv("SSH_AUTH_SOCK"); sock != "" && !noAgent {
				if err := access.AddToAgent(sock, key, cert); err != nil {
					return fmt.Errorf("adding the certificate to ssh-agent: %w (use --no-agent and ssh -i %s)", err, keyPath)
				}
				fmt.Fprintln(a.Stdout, "added to ssh-agent")
			} else {
				fmt.Fprintf(a.Stdout, "log in with: ssh -i %s root@NODE.%s\n", keyPath, s.cfg.Cluster.ExternalDomain)
			}
			return nil
		},
	}
	sshCmd.Flags().BoolVar(&noAgent, "no-agent", false, "do not add the certificate to ssh-agent")

	// printCert tells where a fresh admin certificate went and until when.
	printCert := func(cert *x509.Certificate, path string) {
		fmt.Fprintf(a.Stdout, "certificate %q valid until %s written to %s\n", cert.Subject.CommonName,
			cert.NotAfter.Local().Format(time.RFC1123), path)
	}
	kubeCmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Get a short-lived Kubernetes admin certificate and a kubeconfig",
		Long: `Obtain a Kubernetes client certificate for your root-admin principal, valid
for a few hours, and write a kubeconfig that uses it into the workspace. Use it
with: kubectl --kubeconfig $HOMEWORLD_DIR/kubeconfig ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withAuthority(&f, keyapi.Kubernetes, func(s *adminSession, ca *x509.Certificate) error {
				cert, err := s.admin.WriteKubeconfig(cmd.Context(), s.ws.Dir, ca)
				if err != nil {
					return err
				}
				printCert(cert, access.KubeFiles(s.ws.Dir).Cert)
				fmt.Fprintf(a.Stdout, "kubeconfig written to %s\n", access.KubeconfigPath(s.ws.Dir))
				return nil
			})
		},
	}
	etcdCmd := &cobra.Command{
		Use:   "etcd",
		Short: "Get a short-lived etcd client certificate",
		Long: `Obtain an etcd client certificate for your root-admin principal, valid for a
few hours. The key, certificate and the CA that verifies etcd's servers are
written to the workspace as etcd-access.key, etcd-access.pem and etcd-ca.pem.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// etcd-server: the CA must verify etcd's servers, not sign clients.
			return a.withAuthority(&f, keyapi.EtcdServer, func(s *adminSession, ca *x509.Certificate) error {
				files := access.EtcdFiles(s.ws.Dir)
				cert, err := s.admin.WriteTLS(cmd.Context(), keyapi.AccessEtcd, ca, files)
				if err != nil {
					return err
				}
				printCert(cert, files.Cert)
				return nil
			})
		},
	}

	var knownHosts string
	knownCmd := &cobra.Command{
		Use:   "update-known-hosts",
		Short: "Trust the cluster's SSH host authority in known_hosts",
		Long: `Add (or replace) one @cert-authority line in your known_hosts that trusts the
cluster's ssh-host authority for every host under the cluster's domain, so ssh
verifies nodes by their host certificates without ever asking about a key.
Other lines are kept. This reads only public files; no disaster key needed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			set, err := authority.NewStore(ws.Dir).LoadPublic()
			if err != nil {
				return err
			}
			hostCA, err := set.Get(keyapi.SSHHost)
			if err != nil {
				return err
			}
			path, err := access.UpdateKnownHosts(knownHosts, cfg.Cluster.ExternalDomain, hostCA.SSHKey)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "%s now trusts host certificates of *.%s\n", path, cfg.Cluster.ExternalDomain)
			return nil
		},
	}
	knownCmd.Flags().StringVar(&knownHosts, "known-hosts", "", "known_hosts file to update (default ~/.ssh/known_hosts)")

	c := group("access", "Get short-lived admin credentials for SSH, Kubernetes and etcd", sshCmd, kubeCmd, etcdCmd, knownCmd, a.pullSupervisorKeyCommand())
	f.register(c)
	return c
}
