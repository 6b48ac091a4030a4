package usergrant

import (
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"os"
	"time"

	"homeworld.dev/homeworld/internal/certfile"
	"homeworld.dev/homeworld/internal/keyapi"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/kerberos"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/sdnotify"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/version"
)

// Server is user-grant ready to serve: its service and TLS configuration.
type Server struct {
	Service *Service
	TLS     *tls.Config
	Config  *config.Config
	close   func()
}

// Close releases the audit log.
func (s *Server) Close() { s.close() }

// LoadConfig reads setup.yaml at path and checks that it enables
// user-grant.
func LoadConfig(path string) (*config.Config, error) {
	cfg, _, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if cfg.Cluster.UserGrantDomain == "" { // (validation requires a realm with it)
		return nil, fmt.Errorf("%s sets no cluster.user-grant-domain: user-grant is disabled", path)
	}
	return cfg, nil
}

// ServicePrincipal is user-grant's Kerberos service (without realm):
// HTTP/<user-grant-domain>, as browsers and curl --negotiate ask for it.
func ServicePrincipal(cfg *config.Config) string {
	return "HTTP/" + cfg.Cluster.UserGrantDomain
}

// FetchURL is where users get their kubeconfig.
func FetchURL(cfg *config.Config) string {
	return "https://" + net.JoinHostPort(cfg.Cluster.UserGrantDomain, services.UserGrant.PortString()) + "/"
}

// Open prepares user-grant for the cluster cfg (from LoadConfig) with the
// files f: namespaces are made through the apiserver at apiServer (""
// for the first master's, the one every node's components use), users'
// certificates signed by signer.
func Open(cfg *config.Config, f Files, apiServer string, signer Signer, logf func(string, ...any)) (*Server, error) {
	if apiServer == "" {
		apiServer = nodeconf.ForCluster(cfg).APIServer()
	}
	pool, err := certfile.Pool(f.KubeCA)
	if err != nil {
		return nil, fmt.Errorf("the kubernetes CA: %w (the supervisor's keyclient writes it)", err)
	}
	kubeIdentity := &certfile.Pair{Cert: f.KubeCert, Key: f.KubeKey}
	kube := NewKube(apiServer, pool, kubeIdentity.Get)
	auditLog, err := audit.Open(f.Audit, time.Now)
	if err != nil {
		return nil, err
	}
	serving := &certfile.Pair{Cert: f.ServingCert, Key: f.ServingKey}
	tlsCfg := &tls.Config{
		MinVersion: tls.VersionTLS12, // browsers and curl --negotiate
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return serving.Get()
		},
	}
	return &Server{
		Service: &Service{
			Realm:      cfg.Cluster.KerberosRealm,
			Acceptor:   kerberos.NewAcceptor(f.Keytab, ServicePrincipal(cfg), cfg.Cluster.KerberosRealm),
			Namespaces: kube,
			Signer:     signer,
			APIServer:  apiServer,
			KubeCA:     f.KubeCA,
			FetchURL:   FetchURL(cfg),
			Audit:      auditLog,
			Logf:       logf,
			Now:        time.Now,
		},
		TLS:    tlsCfg,
		Config: cfg,
		close:  func() { auditLog.Close() },
	}, nil
}

// Command is the user-grant daemon's command line.
func Command() *cobra.Command {
	var root, listen, keyserver, apiServer string
	c := &cobra.Command{
		Use:   "user-grant",
		Short: "Give Kerberos users a namespace and a kubeconfig (runs on the supervisor)",
		Long: `user-grant gives each user of the cluster's Kerberos realm a Kubernetes namespace
of their own and a kubeconfig for it. A user with a ticket (kinit) runs
  curl --negotiate -u : https://<user-grant-domain>:` + services.UserGrant.PortString() + `/ > ~/.kube/config
or opens that address in a browser set up for Negotiate (add ?download=1 to
save it as a file). The ticket must be for HTTP/<cluster.user-grant-domain>
and its principal a plain name@<cluster.kerberos-realm>, the name 2 to 32
lowercase letters, digits and '-'; anyone else is refused (403). The user
gets, each time:
  namespace user-<name>, with the ClusterRole admin bound to user:<name>,
  a ResourceQuota and a LimitRange (defaults for containers without requests
  and limits), put back as they should be if changed, and
  a kubeconfig with a fresh key and an 8-hour certificate for user:<name>
  from the keyserver (operation ` + string(keyapi.SignKubeUser) + `).
Its Kubernetes identity may get and create namespaces, get, create and
update rolebindings, resourcequotas and limitranges, and bind the
ClusterRole admin: nothing else. It reads, below --root:
  /etc/homeworld/config/setup.yaml                 realm, user-grant-domain, apiserver
  /etc/homeworld/kerberos/krb5.keytab              the key of HTTP/<user-grant-domain>,
                                                   reread when it changes
  /etc/homeworld/ssl/user-grant.{pem,key}          its HTTPS certificate (keyclient)
  /etc/homeworld/keys/kubernetes-user-grant.{pem,key}
                                                   its Kubernetes identity (keyclient)
  /etc/homeworld/authorities/kubernetes.pem        the kubernetes CA
  /etc/homeworld/keys/user-grant.{pem,key}         its identity at the keyserver (keyclient)
  /etc/homeworld/keyclient/keyservertls.pem        clusterca, to trust the keyserver
Certificates are reread when the keyclient renews them. It appends one JSON
line per grant and refusal, naming the principal, to
/var/log/homeworld/user-grant-audit.log.`,
		Version:       version.String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := log.New(os.Stderr, "user-grant: ", log.LstdFlags)
			node := layout.Node{Root: root}
			cfg, err := LoadConfig(node.SetupYAML())
			if err != nil {
				return err
			}
			f := NodeFiles(node)
			signer, err := NewKeyserverSigner(cfg, f, keyserver, logger.Printf)
			if err != nil {
				return err
			}
			defer signer.Close()
			srv, err := Open(cfg, f, apiServer, signer, logger.Printf)
			if err != nil {
				return err
			}
			defer srv.Close()
			addr := listen
			if addr == "" {
				addr = services.UserGrant.Addr(cfg.Supervisor().IP)
			}
			return daemon.ServeTLS(cmd.Context(), addr, srv.TLS, srv.Service.Handler(), func(a net.Addr) {
				logger.Printf("accepting tickets for %s@%s on %s; namespaces through %s", ServicePrincipal(cfg), cfg.Cluster.KerberosRealm, a, srv.Service.APIServer)
				if err := sdnotify.Ready(); err != nil {
					logger.Printf("notifying systemd: %v", err)
				}
			})
		},
	}
	f := c.Flags()
	f.StringVar(&root, "root", "/", "folder the node's files are below (a virtual node's own root)")
	f.StringVar(&listen, "listen", "", "address to serve on (default: the supervisor's address, port "+services.UserGrant.PortString()+")")
	f.StringVar(&keyserver, "keyserver", "", "keyserver address host:port (required)")
	f.StringVar(&apiServer, "apiserver", "", "Kubernetes API URL for user-grant and in users' kubeconfigs (default: the first master's, from setup.yaml)")
	c.MarkFlagRequired("keyserver")
	return c
}
