package keyclient

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/sdnotify"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/version"
)

// Command is the keyclient daemon's command line.
func Command() *cobra.Command {
	var opts Options
	var root, metricsAddr string
	var untilReady bool
	c := &cobra.Command{
		Use:   "keyclient",
		Short: "Homeworld's node credential agent (runs on every node)",
		Long: `keyclient obtains and renews every credential of its node. It needs, below
--root, what the installer writes:
  /etc/homeworld/config/keyserver.domain      the keyserver's name
  /etc/homeworld/keyclient/keyservertls.pem   the cluster CA
  /etc/homeworld/keyclient/bootstrap.token    a one-time admission token
It redeems the token for the node's identity, then keeps every certificate of
the node's kind valid, renewing each at about two thirds of its lifetime.
Readiness is served at /readyz and Prometheus metrics at /metrics.`,
		Version:       version.String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Node = layout.Node{Root: root}
			opts.Logf = log.New(os.Stderr, "", log.LstdFlags).Printf
			opts.ReturnMemory = true
			a, err := New(opts)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			if metricsAddr != "" {
				ln, err := net.Listen("tcp", metricsAddr)
				if err != nil {
					return fmt.Errorf("metrics listener: %w", err)
				}
				srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
				go srv.Serve(ln)
				defer srv.Close()
			}
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			go func() {
				select {
				case <-a.Ready():
					if err := sdnotify.Ready(); err != nil {
						opts.Logf("keyclient: notifying systemd: %v", err)
					}
				case <-ctx.Done():
				}
			}()
			if untilReady {
				select {
				case <-a.Ready():
					cancel()
					<-done
					fmt.Fprintln(cmd.OutOrStdout(), "ready")
					return nil
				case err := <-done:
					if err == nil {
						err = errors.New("stopped before ready")
					}
					return err
				}
			}
			return <-done
		},
	}
	c.AddCommand(checkTokenCommand())
	f := c.Flags()
	f.StringVar(&root, "root", "/", "folder the node's files are below (a virtual node's own root)")
	f.StringVar(&opts.Keyserver, "keyserver", "", "keyserver address host:port (default: the name in keyserver.domain, port "+services.KeyserverAPI.PortString()+")")
	f.StringVar(&opts.LocalAddr, "source-ip", "", "source address for requests (default: chosen by the kernel)")
	f.StringVar(&metricsAddr, "metrics-listen", net.JoinHostPort("127.0.0.1", services.KeyclientStatus.PortString()), "address serving /metrics and /readyz (empty: none)")
	f.BoolVar(&untilReady, "until-ready", false, "exit once every credential is present (for installers and scripts)")
	return c
}
