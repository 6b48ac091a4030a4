// Package spirecmd is the command tree of spire, the administrator's tool:
// describing the cluster, generating its authorities, and (in later
// capabilities) admitting nodes, granting access and verifying the cluster.
// Commands parse flags, call into the domain packages and print; they hold
// no logic of their own. Only cmd/spire imports this package.
package spirecmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/disaster"
	"homeworld.dev/homeworld/internal/version"
	"homeworld.dev/homeworld/internal/workspace"
)

// IO is where a command reads and writes, and how it sees the environment.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// app is the state shared by every command of one invocation.
type app struct {
	IO
	dirFlag      string
	keyFlag      string
	scryptFactor int // lowers the disaster key's scrypt cost in tests
}

// Main runs spire with args and returns the process exit status.
func Main(ctx context.Context, args []string, io IO) int {
	a := &app{IO: io}
	if err := a.run(ctx, args); err != nil {
		fmt.Fprintf(io.Stderr, "spire: %v\n", err)
		return 1
	}
	return 0
}

func (a *app) run(ctx context.Context, args []string) error {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(a.Stdin)
	root.SetOut(a.Stdout)
	root.SetErr(a.Stderr)
	return root.ExecuteContext(ctx)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "spire",
		Short: "Describe, build and operate a Homeworld Kubernetes cluster",
		Long: `spire is the administrator's tool for a Homeworld cluster.

A cluster lives in a workspace folder (HOMEWORLD_DIR) holding its description,
setup.yaml, and its authorities. The authorities' private keys are sealed with
the disaster key (HOMEWORLD_DISASTER), a passphrase file you keep offline.

Getting started:
  export HOMEWORLD_DIR=$HOME/cluster HOMEWORLD_DISASTER=$HOME/disaster.key
  spire disaster-key gen "$HOMEWORLD_DISASTER"   # keep this file safe and offline
  spire config populate                          # write an example setup.yaml
  spire config edit                              # describe your cluster
  spire authority gen                            # create the cluster's authorities`,
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.dirFlag, "dir", "", "cluster workspace folder (default $"+workspace.EnvDir+")")
	root.PersistentFlags().StringVar(&a.keyFlag, "disaster-key", "", "disaster key file (default $"+workspace.EnvDisaster+")")
	root.SetVersionTemplate("spire {{.Version}}\n")
	root.AddCommand(
		a.configCommand(),
		a.authorityCommand(),
		a.infraCommand(),
		a.accessCommand(),
		a.setupCommand(),
		a.virtCommand(),
		a.deployCommand(),
		a.registryCommand(),
		a.servicesCommand(),
		a.verifyCommand(),
		a.seqCommand(),
		a.disasterKeyCommand(),
		a.keytabCommand(),
		a.isoCommand(),
		a.branchCommand(),
		a.foreachCommand(),
		a.queryCommand(),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version of spire",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintf(cmd.OutOrStdout(), "spire %s\n", version.String())
			},
		},
	)
	return root
}

// group makes a command that only holds subcommands: without one it prints
// help, and with an unknown one it suggests the nearest.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:                        use,
		Short:                      short,
		Args:                       cobra.ArbitraryArgs,
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
			}
			return fmt.Errorf("%s\n\nRun '%s --help' for the list of commands.", msg, cmd.CommandPath())
		},
	}
	c.AddCommand(subs...)
	return c
}

func (a *app) getenv(name string) string {
	if a.Getenv == nil {
		return os.Getenv(name)
	}
	return a.Getenv(name)
}

// workspace opens the workspace named by --dir or HOMEWORLD_DIR.
func (a *app) workspace() (*workspace.Workspace, error) {
	dir, err := workspace.Resolve(a.dirFlag, a.getenv)
	if err != nil {
		return nil, err
	}
	return workspace.Open(dir)
}

// workspaceConfig opens the workspace and loads its setup.yaml.
func (a *app) workspaceConfig() (*workspace.Workspace, *config.Config, error) {
	ws, err := a.workspace()
	if err != nil {
		return nil, nil, err
	}
	cfg, err := a.config(ws)
	if err != nil {
		return nil, nil, err
	}
	return ws, cfg, nil
}

// binDir is where Homeworld's binaries are: the flag, else spire's own folder.
func binDir(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.Dir(exe), nil
}

// config loads the workspace's setup.yaml, printing warnings.
func (a *app) config(ws *workspace.Workspace) (*config.Config, error) {
	cfg, warnings, err := ws.LoadConfig()
	a.printWarnings(warnings)
	return cfg, err
}

func (a *app) printWarnings(ws config.Problems) {
	for _, w := range ws {
		fmt.Fprintf(a.Stderr, "warning: %s\n", w)
	}
}

// disasterKey loads the key named by --disaster-key or HOMEWORLD_DISASTER.
func (a *app) disasterKey() (*disaster.Key, error) {
	path, err := workspace.DisasterKeyPath(a.keyFlag, a.getenv)
	if err != nil {
		return nil, err
	}
	k, err := disaster.Load(path)
	if err != nil {
		return nil, err
	}
	if a.scryptFactor > 0 {
		k.SetWorkFactor(a.scryptFactor)
	}
	return k, nil
}
