package verify

import (
	"context"
	"fmt"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/services"
)

// pull checks pull-monitor's results on every master and worker: the node
// pulled the pullcheck image from the cluster's registry and ran it. A
// failure names the node, the image and the step that failed, and for a
// failed pull the registry, the likeliest culprit.
func pull(ctx context.Context, p *Prometheus, c *config.Config) error {
	pulled, err := p.Query(ctx, `oci_pull_check`)
	if err != nil {
		return err
	}
	ran, err := p.Query(ctx, `oci_exec_check`)
	if err != nil {
		return err
	}
	failed, err := p.Query(ctx, `oci_check_failed_step_info == 1`)
	if err != nil {
		return err
	}
	pulledBy, ranBy, stepBy := byNode(pulled), byNode(ran), byNode(failed)
	var ps Problems
	for _, n := range nodesOf(c, config.KindMaster, config.KindWorker) {
		pl, ok := pulledBy[n.Hostname]
		if !ok {
			ps = append(ps, fmt.Sprintf("node %s: pull-monitor has not reported (is it running?)", n.Hostname))
			continue
		}
		image, step := pl.Labels["image"], stepBy[n.Hostname].Labels["step"]
		if step == "" {
			step = "unknown"
		}
		switch {
		case pl.Value != 1:
			ps = append(ps, fmt.Sprintf("node %s: pulling %s from the registry %s fails (step %s; see pull-monitor's log on the node)", n.Hostname, image, services.RegistryName, step))
		case ranBy[n.Hostname].Value != 1:
			ps = append(ps, fmt.Sprintf("node %s: running %s fails (step %s; see pull-monitor's log on the node)", n.Hostname, image, step))
		}
	}
	return ps.err()
}
