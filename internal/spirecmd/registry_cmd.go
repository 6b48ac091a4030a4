package spirecmd

import (
	"context"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/imagepush"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/services"
)

func (a *app) registryCommand() *cobra.Command {
	var f keyserverFlags
	var dir, addr string
	var replace bool
	push := &cobra.Command{
		Use:   "push",
		Short: "Push every image of the build into the cluster's registry",
		Long: `Push Homeworld's images (pause, hello, CoreDNS, the monitors...) from the
build's images folder into the registry on the supervisor (homeworld.private),
from which every node pulls.

Each archive is first checked against the build's index (index.tsv, written
by scripts/build); an archive whose image differs from what the build
recorded is refused. A reference the registry already holds with the same
image is left as it is without sending anything, so pushing again is cheap.
A reference that holds a different image is refused, since nodes may run
it, unless --replace is given.

The push authenticates with a short-lived administrator certificate from the
keyserver (the kubernetes authority, group system:masters), whose key never
leaves this process; nodes' credentials can only pull.`,
		Example: "  spire registry push\n  spire registry push --images bin/images --replace",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.pushImages(cmd.Context(), &f, dir, addr, replace, true)
		},
	}
	push.Flags().StringVar(&dir, "images", "", "the build's images folder (default: images/ beside spire)")
	push.Flags().StringVar(&addr, "registry", "", "address to reach the registry at (default: the supervisor's, port "+services.RegistryFront.PortString()+")")
	push.Flags().BoolVar(&replace, "replace", false, "overwrite references that hold other images")
	c := group("registry", "Work with the cluster's image registry on the supervisor", push)
	f.register(c)
	return c
}

// pushImages pushes the build in dir (default: images/ beside spire) into
// the registry at addr (default: the supervisor's), as an administrator;
// verbose lists every reference, otherwise only the summary is printed.
func (a *app) pushImages(ctx context.Context, f *keyserverFlags, dir, addr string, replace, verbose bool) error {
	if dir == "" {
		bin, err := binDir("")
		if err != nil {
			return err
		}
		dir = filepath.Join(bin, "images")
	}
	return a.withAuthority(f, keyapi.ClusterCA, func(s *adminSession, ca *x509.Certificate) error {
		target := addr
		if target == "" {
			target = services.RegistryFront.Addr(s.cfg.Supervisor().IP)
		}
		start := time.Now()
		o := imagepush.Options{Replace: replace}
		if verbose {
			o.Progress = func(r imagepush.Result) {
				fmt.Fprintf(a.Stdout, "%-9s %s %s (%.1f MB, %.1fs)\n", r.Outcome, r.Ref, r.Digest.Hex[:12], float64(r.Bytes)/1e6, r.Took.Seconds())
			}
		}
		results, err := imagepush.AsAdmin(ctx, s.admin, ca, target, dir, o)
		if err != nil {
			return err
		}
		fmt.Fprintln(a.Stdout, imagepush.Summary(results, time.Since(start)))
		return nil
	})
}
