package spirecmd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/seq"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/verify"
	"homeworld.dev/homeworld/internal/virt"
)

var promFlagHelp = "Prometheus to ask (default: the supervisor's, port " + services.Prometheus.PortString() + ")"

func (a *app) verifyCommand() *cobra.Command {
	var promURL string
	var names []string
	for _, c := range verify.Checks {
		names = append(names, fmt.Sprintf("  %-15s %s", c.Name, c.Description))
	}
	c := &cobra.Command{
		Use:   "verify CHECK... | all",
		Short: "Check that the cluster works, from its monitoring",
		Long: `Ask the supervisor's Prometheus whether the cluster works. Each check names
every node and component that fails it. Checks:
` + strings.Join(names, "\n"),
		Example: `  spire verify all
  spire verify services etcd`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			if err := virt.CheckReachable(ws.Dir, cfg, promURL); err != nil {
				return err
			}
			var checks []verify.Check
			if len(args) == 1 && args[0] == "all" {
				checks = verify.Checks
			} else {
				for _, name := range args {
					c, err := verify.Find(name)
					if err != nil {
						return err
					}
					checks = append(checks, c)
				}
			}
			p := verify.PrometheusFor(cfg, promURL)
			failed := 0
			for _, c := range checks {
				ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
				err := c.Run(ctx, p, cfg)
				cancel()
				switch {
				case err != nil && verify.Passed(err):
					fmt.Fprintf(a.Stdout, "ok   %-15s %s\n     notice: %v\n", c.Name, c.Description, err)
				case err != nil:
					failed++
					fmt.Fprintf(a.Stdout, "FAIL %-15s %v\n", c.Name, err)
				default:
					fmt.Fprintf(a.Stdout, "ok   %-15s %s\n", c.Name, c.Description)
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d checks failed", failed, len(checks))
			}
			return nil
		},
	}
	c.Flags().StringVar(&promURL, "prometheus", "", promFlagHelp)
	return c
}

func (a *app) seqCommand() *cobra.Command {
	var promURL string
	var dryRun bool
	var deadline time.Duration
	run := func(cmd *cobra.Command, build func(*config.Config, *verify.Prometheus) []seq.Step) error {
		ws, cfg, err := a.workspaceConfig()
		if err != nil {
			return err
		}
		steps := build(cfg, verify.PrometheusFor(cfg, promURL))
		if dryRun {
			seq.DryRun(a.Stdout, steps)
			return nil
		}
		if err := virt.CheckReachable(ws.Dir, cfg, promURL); err != nil {
			return err
		}
		return seq.Run(cmd.Context(), steps, a.seqOptions(deadline))
	}
	clusterCmd := &cobra.Command{
		Use:   "cluster",
		Short: "Wait until every check passes for the whole cluster",
		Long: `Run the checks of 'spire verify' in order — Prometheus, nodes online,
credentials, services, etcd, Kubernetes — retrying each until it passes or
--deadline ends, and print how long each took. --dry-run lists the steps.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd, verify.ClusterSequence) },
	}
	var images string
	var hf hostFlags
	supervisorCmd := &cobra.Command{
		Use:   "supervisor",
		Short: "Push the images into the supervisor's registry, then wait until the supervisor passes every check",
		Long: `Set up the supervisor and prove it works, each step retried until it passes.

On real hosts (and systemd hosts), over SSH, the original's sequence: the
supervisor answers SSH; setup keyserver; the keyserver serves its static
files; setup self-admit (every supervisor unit active); setup prometheus;
an admin SSH certificate, setup supervisor-ssh and a certificate login;
the build's images pushed into the registry; the RBAC and add-ons queued
for the masters; then the supervisor's checks. Re-running it changes and
restarts nothing that is already right.

On the virtual cluster's fast path (virt up did the setup): push the images
(unchanged references are not sent again), then the checks of 'spire
verify' for the supervisor node only: Prometheus, online, credentials,
services and the registry.` + sshHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			if a.overSSH(ws, cfg) {
				steps, done, err := a.supervisorHostSteps(ws, cfg, &hf, images, verify.PrometheusFor(cfg, promURL))
				defer done()
				if err != nil {
					return err
				}
				if dryRun {
					seq.DryRun(a.Stdout, steps)
					return nil
				}
				if err := virt.CheckReachable(ws.Dir, cfg, promURL); err != nil {
					return err
				}
				return seq.Run(cmd.Context(), steps, a.seqOptions(deadline))
			}
			return run(cmd, func(cfg *config.Config, p *verify.Prometheus) []seq.Step {
				push := seq.Step{Name: "registry push: the build's images into the supervisor's registry", Run: func(ctx context.Context) error {
					return a.pushImages(ctx, &keyserverFlags{}, images, "", false, false)
				}}
				return append([]seq.Step{push}, verify.SupervisorSequence(cfg, p)...)
			})
		},
	}
	supervisorCmd.Flags().StringVar(&images, "images", "", "the build's images folder (default: images/ beside spire)")
	hf.register(supervisorCmd)
	c := group("seq", "Run ordered sequences that bring a cluster to proven-working", clusterCmd, supervisorCmd)
	c.PersistentFlags().StringVar(&promURL, "prometheus", "", promFlagHelp)
	c.PersistentFlags().BoolVar(&dryRun, "dry-run", false, "list the steps without running them")
	c.PersistentFlags().DurationVar(&deadline, "deadline", 3*time.Minute, "how long each step may take to pass")
	return c
}

// seqOptions shows live progress when standard output is a terminal.
func (a *app) seqOptions(deadline time.Duration) seq.Options {
	o := seq.Options{Out: a.Stdout, Deadline: deadline}
	if f, ok := a.Stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		o.Terminal = true
		o.Width, _, _ = term.GetSize(int(f.Fd()))
	}
	return o
}
