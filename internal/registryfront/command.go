package registryfront

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"homeworld.dev/homeworld/internal/certfile"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/version"
)

// Command is registry-front's command line.
func Command() *cobra.Command {
	var listen, backend, cert, key, clientCA, auditPath string
	c := &cobra.Command{
		Use:   "registry-front --listen ADDR --backend URL --cert FILE --key FILE --client-ca FILE --audit-log FILE",
		Short: "Serve the cluster's image registry over HTTPS; only administrators push (runs on the supervisor)",
		Long: `registry-front is the cluster's image registry as nodes see it
(homeworld.private): it answers HTTPS on --listen with the registry
certificate the keyclient keeps in --cert/--key (read again on each new
connection, so renewals need no restart) and forwards the registry API
(/v2/) to the distribution registry at --backend, which listens on loopback.

Pulls (GET, HEAD) are open to every client that trusts the cluster CA.
Pushes and deletes need a client certificate signed by --client-ca (the
kubernetes authority) in group system:masters: an administrator's, as spire
registry push presents; anything else is refused with 403 DENIED. Each
write, granted or refused, is a line in --audit-log before it is answered.
/metrics serves registry_front_requests_total.`,
		Example: "  registry-front --listen " + services.RegistryFront.Addr("10.0.0.10") + " --backend " + services.RegistryBackend.URL("", "") + ` \
    --cert /etc/homeworld/ssl/homeworld.private.pem --key /etc/homeworld/ssl/homeworld.private.key \
    --client-ca /etc/homeworld/authorities/kubernetes.pem --audit-log /var/log/homeworld/registry-audit.log`,
		Version:       version.String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			be, err := url.Parse(backend)
			if err != nil || be.Scheme != "http" || be.Host == "" {
				return fmt.Errorf("--backend %q: want http://HOST:PORT of the distribution registry", backend)
			}
			pool, err := certfile.Pool(clientCA)
			if err != nil {
				return err
			}
			if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
				return fmt.Errorf("the registry certificate: %w", err)
			}
			log, err := audit.Open(auditPath, time.Now)
			if err != nil {
				return err
			}
			defer log.Close()
			f := New(be, log)
			mux := http.NewServeMux()
			mux.Handle("/", f)
			mux.Handle("GET /metrics", daemon.MetricsHandler(f.Registry, promhttp.HandlerOpts{}))
			l, err := tls.Listen("tcp", listen, &tls.Config{
				MinVersion: tls.VersionTLS12,
				ClientAuth: tls.VerifyClientCertIfGiven,
				ClientCAs:  pool,
				GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
					pair, err := tls.LoadX509KeyPair(cert, key)
					return &pair, err
				},
			})
			if err != nil {
				return err
			}
			return daemon.ServeListener(cmd.Context(), l, mux)
		},
	}
	fl := c.Flags()
	fl.StringVar(&listen, "listen", "", "address serving HTTPS, host:port (required)")
	fl.StringVar(&backend, "backend", "", "the distribution registry's loopback URL, http://127.0.0.1:PORT (required)")
	fl.StringVar(&cert, "cert", "", "the registry's certificate for homeworld.private (required)")
	fl.StringVar(&key, "key", "", "its private key (required)")
	fl.StringVar(&clientCA, "client-ca", "", "authority whose system:masters certificates may push: the kubernetes authority (required)")
	fl.StringVar(&auditPath, "audit-log", "", "file every push decision is appended to (required)")
	for _, name := range []string{"listen", "backend", "cert", "key", "client-ca", "audit-log"} {
		c.MarkFlagRequired(name)
	}
	return c
}
