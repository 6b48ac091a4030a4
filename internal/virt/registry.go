package virt

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/imagepush"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/services"
)

// pushImages waits for the supervisor's registry and pushes the build's
// images into it, as spire registry push does.
func pushImages(ctx context.Context, t *Topology, st *State, admin *access.Admin, o Options, progress func(string, ...any)) error {
	sup := t.nodeByKind(config.KindSupervisor)
	if err := waitReady(ctx, st, sup, "registry-front"); err != nil {
		return fmt.Errorf("the registry on %s: %w", sup.Hostname, err)
	}
	clusterCA, err := o.Authorities.Get(keyapi.ClusterCA)
	if err != nil {
		return err
	}
	start := time.Now()
	results, err := imagepush.AsAdmin(ctx, admin, clusterCA.Cert, services.RegistryFront.Addr(sup.IP), filepath.Join(o.BinDir, "images"), imagepush.Options{})
	if err != nil {
		return fmt.Errorf("pushing images into the registry: %w", err)
	}
	progress("registry on %s: %s", sup.Hostname, imagepush.Summary(results, time.Since(start)))
	return nil
}
