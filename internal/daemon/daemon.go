// Package daemon is what Homeworld's small daemons share: one main (stop
// on SIGTERM or interrupt, on failure "NAME: error" on stderr and exit code
// 1), serving HTTP until stopped with a graceful shutdown, and accepting
// the positional command lines the daemons had before their flags. The
// daemons' cmd/ mains and command lines import it.
package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// Main runs c until it returns or a stop signal cancels its context, and
// exits 1 with "NAME: error" if it failed.
func Main(c *cobra.Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := c.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", c.Name(), err)
		os.Exit(1)
	}
}

// ShutdownGrace is how long requests in flight (a scrape) get to finish
// once a daemon is asked to stop.
const ShutdownGrace = 5 * time.Second

// Serve answers HTTP on addr with h until ctx ends, then shuts down
// gracefully and returns nil.
func Serve(ctx context.Context, addr string, h http.Handler) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if srv.Shutdown(sctx) != nil {
		srv.Close() // a request that outlasts the grace is cut off
	}
	return nil
}

// Positional accepts, besides flags, the command line a daemon had before
// it had flags: the arguments set the named flags in order, and a last
// flag that repeats (a slice) takes all remaining arguments. It does its
// work as the command's Args check, which cobra runs before it checks
// required flags, so the old form satisfies them. No arguments: flags only.
func Positional(names ...string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		last := c.Flags().Lookup(names[len(names)-1])
		variadic := strings.HasSuffix(last.Value.Type(), "Slice") || strings.HasSuffix(last.Value.Type(), "Array")
		if len(args) < len(names) || (len(args) > len(names) && !variadic) {
			return fmt.Errorf("%d arguments; use the flags (--%s)", len(args), strings.Join(names, ", --"))
		}
		for i, arg := range args {
			if err := c.Flags().Set(names[min(i, len(names)-1)], arg); err != nil {
				return err
			}
		}
		return nil
	}
}
