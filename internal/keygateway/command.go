package keygateway

import (
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/certfile"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/kerberos"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/sdnotify"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/version"
)

// Server is a gateway ready to serve: its handler and TLS configuration.
type Server struct {
	Gateway *Gateway
	TLS     *tls.Config
	Config  *config.Config
	close   func()
}

// Close releases the audit log and connections.
func (s *Server) Close() { s.close() }

// Options say where a gateway's inputs are.
type Options struct {
	Setup     string // setup.yaml
	Files     Files
	Keyserver string // host:port
	LocalAddr string // source address towards the keyserver (tests); default: the system's choice
	Logf      func(string, ...any)
}

// Load prepares a gateway from its files.
func Load(o Options) (*Server, error) {
	f, logf, setupPath := o.Files, o.Logf, o.Setup
	cfg, _, err := config.Load(setupPath)
	if err != nil {
		return nil, err
	}
	if cfg.Cluster.KerberosRealm == "" {
		return nil, fmt.Errorf("%s sets no cluster.kerberos-realm: Kerberos is disabled, and the gateway has nothing to do", setupPath)
	}
	pool, err := certfile.Pool(f.ClusterCA)
	if err != nil {
		return nil, err
	}
	identity := &certfile.Pair{Cert: f.IdentityCert, Key: f.IdentityKey}
	ks, err := keyapi.NewClient(keyapi.ClientConfig{
		Address: o.Keyserver, ServerName: cfg.FQDN(cfg.Supervisor()), RootCAs: pool, Timeout: 20 * time.Second,
		LocalAddr: o.LocalAddr, ClientCert: identity.ClientCert(logf),
	})
	if err != nil {
		return nil, err
	}
	log, err := audit.Open(f.Audit, time.Now)
	if err != nil {
		return nil, err
	}
	acceptor := kerberos.NewAcceptor(f.Keytab, policy.GatewayService(cfg), cfg.Cluster.KerberosRealm)
	acceptor.UseRealmSkew(f.Krb5Conf)
	serving := &certfile.Pair{Cert: f.ServingCert, Key: f.ServingKey}
	tlsCfg := &tls.Config{
		MinVersion: tls.VersionTLS12, // browsers and curl --negotiate
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return serving.Get()
		},
	}
	return &Server{
		Gateway: New(cfg, acceptor, ks, log, logf),
		TLS:     tlsCfg,
		Config:  cfg,
		close:   func() { ks.Close(); log.Close() },
	}, nil
}

// Command is the keygateway daemon's command line.
func Command() *cobra.Command {
	var root, listen, keyserver string
	c := &cobra.Command{
		Use:   "keygateway",
		Short: "Let root admins obtain credentials with their Kerberos tickets (runs on the supervisor)",
		Long: `keygateway accepts the keyserver's batch API over HTTPS from administrators who
authenticate with a Kerberos ticket (Authorization: Negotiate, for the service
HTTP/<supervisor fqdn>). It maps the ticket's principal to a root admin of
setup.yaml (an entry "alice" means alice@<cluster.kerberos-realm>) and has the
keyserver run the batch as that admin. Its own keysystem account may do
nothing but that. It reads, below --root:
  /etc/homeworld/config/setup.yaml           admins and realm
  /etc/homeworld/kerberos/krb5.keytab        its service key ('spire setup keygateway'),
                                             reread when it changes
  /etc/homeworld/keys/keygateway.{pem,key}   its identity at the keyserver (keyclient)
  /etc/homeworld/ssl/keygateway.{pem,key}    its HTTPS certificate (keyclient)
and appends one JSON line per grant and refusal, naming the principal, to
/var/log/homeworld/keygateway-audit.log.`,
		Version:       version.String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := log.New(os.Stderr, "keygateway: ", log.LstdFlags)
			node := layout.Node{Root: root}
			srv, err := Load(Options{Setup: node.SetupYAML(), Files: NodeFiles(node), Keyserver: keyserver, Logf: logger.Printf})
			if err != nil {
				return err
			}
			defer srv.Close()
			sup := srv.Config.Supervisor()
			addr := listen
			if addr == "" {
				addr = services.KeyGateway.Addr(sup.IP)
			}
			return daemon.ServeTLS(cmd.Context(), addr, srv.TLS, srv.Gateway.Handler(), func(a net.Addr) {
				logger.Printf("accepting tickets for %s@%s on %s", policy.GatewayService(srv.Config), srv.Config.Cluster.KerberosRealm, a)
				if err := sdnotify.Ready(); err != nil {
					logger.Printf("notifying systemd: %v", err)
				}
			})
		},
	}
	f := c.Flags()
	f.StringVar(&root, "root", "/", "folder the node's files are below (a virtual node's own root)")
	f.StringVar(&listen, "listen", "", "address to serve on (default: the supervisor's address, port "+services.KeyGateway.PortString()+")")
	f.StringVar(&keyserver, "keyserver", "", "keyserver address host:port (required)")
	c.MarkFlagRequired("keyserver")
	return c
}
