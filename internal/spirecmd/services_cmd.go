package spirecmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/services"
)

func (a *app) servicesCommand() *cobra.Command {
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "Show the service map: which services each node kind runs",
		Long: `Show the service map: every service, the node kinds that run it, what it waits
for and how its readiness is checked. systemd units and the virtual cluster's
node supervisor are both derived from this table.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVICE\tKINDS\tAFTER\tDESCRIPTION")
			for _, s := range services.Map {
				kinds := make([]string, len(s.Kinds))
				for i, k := range s.Kinds {
					kinds[i] = string(k)
				}
				after := strings.Join(s.After, ",")
				if after == "" {
					after = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, strings.Join(kinds, ","), after, s.Description)
			}
			return tw.Flush()
		},
	}
	var out, binDir string
	unitsCmd := &cobra.Command{
		Use:   "units NODE",
		Short: "Render the systemd units of one node into a folder",
		Long: `Render the systemd units NODE runs, from the service map and setup.yaml, into
--out (one NAME.service each). Install them into /etc/systemd/system on the
node. Each unit restarts its service, orders it after what it depends on, and
confines it with systemd's sandboxing options.`,
		Example: `  spire services units master1 --out ./units`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			n, ok := cfg.FindNode(args[0])
			if !ok {
				return fmt.Errorf("no node named %q in setup.yaml", args[0])
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			h := services.Host{Cluster: cfg, Node: n, BinDir: binDir}
			for _, s := range services.On(cfg, n) {
				if s.OSProvided() {
					continue // the operating system's own unit runs it
				}
				path := filepath.Join(out, s.Unit())
				if err := renameio.WriteFile(path, []byte(services.Unit(s, h)), 0o644); err != nil {
					return err
				}
				fmt.Fprintln(a.Stdout, path)
			}
			return nil
		},
	}
	unitsCmd.Flags().StringVar(&out, "out", ".", "folder to write the units into")
	unitsCmd.Flags().StringVar(&binDir, "bin-dir", "/usr/bin", "where Homeworld's binaries are installed on the node")
	return group("services", "Inspect the service map and render systemd units", listCmd, unitsCmd)
}
