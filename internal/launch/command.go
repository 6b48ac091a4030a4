package launch

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/version"
)

// Command is kube-launch's command line.
func Command() *cobra.Command {
	var binDir, root string
	var dryRun bool
	c := &cobra.Command{
		Use:   "kube-launch COMPONENT",
		Short: "Start an upstream component with Homeworld's configuration",
		Long: `kube-launch reads the node's cluster.conf and local.conf, writes the files
COMPONENT needs (kubeconfigs, containerd and CNI configuration) and execs the
pinned upstream binary with flags that use the keysystem's certificates.
Components: ` + strings.Join(Names(), ", ") + `.`,
		Version:       version.String(),
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if binDir == "" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				binDir = filepath.Dir(exe)
			}
			n, err := Load(layout.Node{Root: root}, binDir)
			if err != nil {
				return err
			}
			l, err := Plan(args[0], n)
			if err != nil {
				return err
			}
			if dryRun {
				fmt.Fprintln(cmd.OutOrStdout(), strings.Join(append(slices.Clone(l.Env), l.Argv...), " "))
				return nil
			}
			return n.Exec(l)
		},
	}
	c.Flags().StringVar(&binDir, "bin-dir", "", "folder of the upstream binaries (default: kube-launch's own)")
	c.Flags().StringVar(&root, "root", "/", "folder the node's files are below")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print the command instead of running it")
	return c
}
