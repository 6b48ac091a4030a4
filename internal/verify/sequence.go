package verify

import (
	"context"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/seq"
	"homeworld.dev/homeworld/internal/services"
)

// PrometheusFor is the cluster's Prometheus on the supervisor, or the one at
// base when it is not empty.
func PrometheusFor(cfg *config.Config, base string) *Prometheus {
	if base == "" {
		base = services.Prometheus.URL(cfg.Supervisor().IP, "")
	}
	return NewPrometheus(strings.TrimSuffix(base, "/"))
}

// ClusterSequence is the steps that prove a cluster works, in the order it
// comes up: Prometheus answers, then every check.
func ClusterSequence(cfg *config.Config, p *Prometheus) []seq.Step {
	var checks []Check
	for _, c := range Checks {
		if c.Name != "keygateway" { // seq supervisor's, after setup keygateway
			checks = append(checks, c)
		}
	}
	return sequence(cfg, p, checks)
}

// supervisorChecks are the checks that say something about the supervisor
// alone: etcd and Kubernetes live on masters. The key gateway is checked
// here, right after its keytab is installed, and not in the cluster's
// sequence (as in the original's seq keysystem).
var supervisorChecks = []string{"online", "keysystem", "keygateway", "services", "registry"}

// SupervisorSequence is the steps that prove the supervisor works before
// any other node exists: Prometheus, then the checks that concern one node,
// asked about the supervisor only.
func SupervisorSequence(cfg *config.Config, p *Prometheus) []seq.Step {
	only := *cfg
	only.Nodes = []config.Node{cfg.Supervisor()}
	var checks []Check
	for _, name := range supervisorChecks {
		c, err := Find(name)
		if err != nil {
			panic(err) // supervisorChecks names a check that does not exist
		}
		checks = append(checks, c)
	}
	return sequence(&only, p, checks)
}

// Poll is how soon a check that waits asks Prometheus again. A result
// appears at a scrape, and a few queries cost Prometheus milliseconds: a
// step that looked once a second added half a second, on average, to each
// wait of a cluster's bring-up.
const Poll = 250 * time.Millisecond

func sequence(cfg *config.Config, p *Prometheus, checks []Check) []seq.Step {
	steps := []seq.Step{{Name: "Prometheus answers on the supervisor", Retry: Poll, Run: func(ctx context.Context) error {
		_, err := p.Query(ctx, "up")
		return err
	}}}
	for _, c := range checks {
		steps = append(steps, seq.Step{Name: "verify " + c.Name, Retry: Poll, Run: func(ctx context.Context) error {
			if err := c.Run(ctx, p, cfg); !Passed(err) {
				return err
			}
			return nil
		}})
	}
	return steps
}
