package keyserver

import (
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/sdnotify"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/version"
)

// Command is the keyserver daemon's command line.
func Command() *cobra.Command {
	var root, listen string
	var adm Admission
	l := policy.DefaultLifetimes
	c := &cobra.Command{
		Use:   "keyserver",
		Short: "Homeworld's credential service (runs on the supervisor)",
		Long: `keyserver issues every credential of a Homeworld cluster under a policy derived
from setup.yaml. It reads, below --root:
  /etc/homeworld/config/setup.yaml            the cluster description
  /etc/homeworld/keyserver/authorities/       the unsealed authorities
  /etc/homeworld/keyserver/virtual-cluster    present when 'spire virt up' installed it
                                              (cluster.conf then says VIRTUAL=true)
and keeps its admission tokens in /var/lib/homeworld/keyserver/tokens.json and
its deny list in /var/lib/homeworld/keyserver/deny.json and its audit log in
/var/log/homeworld/keyserver-audit.log (one JSON line per grant, refusal,
token issue and redemption, synced before the answer: a grant that cannot be
audited is answered 503 and not delivered). SIGHUP reopens the audit log
after rotation. 'spire setup keyserver' installs the first two.`,
		Version:       version.String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := log.New(os.Stderr, "keyserver: ", log.LstdFlags)
			srv, cfg, err := Load(layout.Node{Root: root}, l, Options{Logf: logger.Printf, Admission: adm})
			if err != nil {
				return err
			}
			addr := listen
			if addr == "" {
				addr = services.KeyserverAPI.Addr(cfg.Supervisor().IP)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listening on %s: %w", addr, err)
			}
			logger.Printf("serving %s on %s", cfg.FQDN(cfg.Supervisor()), ln.Addr())
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for range hup {
					if err := srv.ReopenAudit(); err != nil {
						logger.Printf("reopening the audit log: %v", err)
					} else {
						logger.Printf("reopened the audit log")
					}
				}
			}()
			if err := sdnotify.Ready(); err != nil {
				logger.Printf("notifying systemd: %v", err)
			}
			return srv.Serve(cmd.Context(), ln)
		},
	}
	f := c.Flags()
	f.IntVar(&adm.MaxActive, "max-active", 0, "work on at most this many connections at once, queue the rest in order of arrival and close those that wait too long before their handshake (0: no bound; try 64 per processor if the keyserver falls behind a boot storm)")
	f.DurationVar(&adm.MaxWait, "max-wait", 0, "with --max-active: how long a connection may wait before it is closed unanswered (default 2.5s)")
	f.StringVar(&root, "root", "/", "folder the node's files are below (a virtual node's own root)")
	f.StringVar(&listen, "listen", "", "address to serve on (default: the supervisor's address from setup.yaml, port "+services.KeyserverAPI.PortString()+")")
	f.DurationVar(&l.Keygrant, "keygrant-lifetime", l.Keygrant, "lifetime of node identity certificates")
	f.DurationVar(&l.NodeCert, "node-cert-lifetime", l.NodeCert, "lifetime of node role certificates")
	f.DurationVar(&l.SSHHost, "ssh-host-lifetime", l.SSHHost, "lifetime of SSH host certificates")
	f.DurationVar(&l.Admin, "admin-lifetime", l.Admin, "lifetime of every administrator credential")
	f.DurationVar(&l.Token, "token-lifetime", l.Token, "lifetime of admission tokens")
	return c
}
