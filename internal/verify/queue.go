package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/setupqueue"
)

// kubernetesInit checks that the setup queue on the supervisor has applied
// everything queued (RBAC and the add-ons): nothing waiting, nothing the
// API refuses, the API reachable from it.
func kubernetesInit(ctx context.Context, p *Prometheus, c *config.Config) error {
	sup := c.Supervisor().Hostname
	if err := perNode(ctx, p, c, `up{job="`+services.SetupQueue.Job+`"}`,
		"setup-queue is not scraped", "setup-queue does not answer", config.KindSupervisor); err != nil {
		return err
	}
	failing, err := p.Query(ctx, setupqueue.MetricFailing+` == 1`)
	if err != nil {
		return err
	}
	var refused []string
	for _, s := range failing {
		refused = append(refused, s.Labels["manifest"])
	}
	sort.Strings(refused)
	if len(refused) > 0 {
		return fmt.Errorf("node %s: the setup queue cannot apply %s: the API refuses it (setup-queue's log on the supervisor says why)", sup, strings.Join(refused, ", "))
	}
	unreachable, err := p.Query(ctx, setupqueue.MetricUnreachable+` == 1`)
	if err != nil {
		return err
	}
	if len(unreachable) > 0 {
		return fmt.Errorf("node %s: the setup queue cannot reach the Kubernetes API", sup)
	}
	pending, err := p.Query(ctx, setupqueue.MetricPending)
	if err != nil {
		return err
	}
	if len(pending) != 1 {
		return fmt.Errorf("node %s: setup-queue reports no %s", sup, setupqueue.MetricPending)
	}
	if n := int(pending[0].Value); n > 0 {
		return fmt.Errorf("node %s: %d manifests wait in the setup queue", sup, n)
	}
	return nil
}
