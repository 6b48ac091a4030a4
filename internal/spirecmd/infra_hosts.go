package spirecmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/aptbranch"
	"homeworld.dev/homeworld/internal/branchkey"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/hostsetup"
	"homeworld.dev/homeworld/internal/remote"
	"homeworld.dev/homeworld/internal/workspace"
)

// aptURLFile remembers where the workspace's apt branch is served, so
// install-packages needs the address once.
func aptURLFile(ws *workspace.Workspace) string { return filepath.Join(ws.Dir, "apt-url") }

// installPackagesCommand is `spire infra install-packages`.
func (a *app) installPackagesCommand(hf *hostFlags) *cobra.Command {
	var url, branch, suite string
	c := &cobra.Command{
		Use:   "install-packages [NODE...]",
		Short: "Install or upgrade Homeworld's packages on nodes from the apt branch",
		Long: `Point each node's apt at the Homeworld branch (its signing key as a keyring
and a sources entry that trusts only that key, as homeworld-apt-setup ships
them), refresh the lists, install the package of the node's kind
(homeworld-supervisor, -master or -worker) and upgrade whatever the branch has
newer. Without NODE, every node.

First every host is checked (SSH works, host key known, Debian with apt, 2 GiB
free): if one fails, spire names it and the cause and changes nothing on any
host. A host that is already current is left alone; where packages changed on
a node that runs Homeworld, its units are restarted in the service map's
order (the keyclient's credentials are files no package touches). A second
run continues where a failed one stopped.

The branch's address is --url, remembered in the workspace (spire virt up
--hosts systemd records its own).` + sshHelp,
		Example: `  spire infra install-packages --url http://apt.example.org/homeworld/
  spire infra install-packages worker1`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			nodes, err := nodesOf(cfg, args, config.Kinds...)
			if err != nil {
				return err
			}
			files, err := aptSetupFiles(ws, url, branch, suite)
			if err != nil {
				return err
			}
			hs, err := a.connectHosts(ws, cfg, hf)
			if err != nil {
				return err
			}
			defer hs.Close()
			return a.installPackages(cmd.Context(), hs, nodes, files)
		},
	}
	c.Flags().StringVar(&url, "url", "", "where the apt branch is served (remembered in the workspace)")
	c.Flags().StringVar(&branch, "name", "stable", "the branch's name")
	c.Flags().StringVar(&suite, "suite", "", "the branch's suite (default: its name)")
	return c
}

// aptSetupFiles are the branch's keyring and sources entry for nodes.
func aptSetupFiles(ws *workspace.Workspace, url, branch, suite string) ([]hostsetup.File, error) {
	if url == "" {
		data, err := os.ReadFile(aptURLFile(ws))
		if err != nil {
			return nil, fmt.Errorf("where is the apt branch served? pass --url (it is remembered in %s)", aptURLFile(ws))
		}
		url = string(data)
	} else if err := os.WriteFile(aptURLFile(ws), []byte(url), 0o644); err != nil {
		return nil, err
	}
	key, err := branchkey.LoadPublic(ws.Dir)
	if err != nil {
		return nil, err
	}
	sf, err := aptbranch.SetupFiles(branch, url, suite, key.Keyring())
	if err != nil {
		return nil, err
	}
	var files []hostsetup.File
	for _, f := range sf {
		files = append(files, hostsetup.File{Path: f.Path, Data: f.Data, Mode: f.Mode})
	}
	return files, nil
}

// installPackages checks every host, then installs on each in turn.
func (a *app) installPackages(ctx context.Context, hs *hosts, nodes []config.Node, files []hostsetup.File) error {
	clients := map[string]*remote.Client{}
	for _, n := range nodes {
		c, err := hs.dial(ctx, n)
		if err == nil {
			err = hostsetup.Preflight(ctx, c)
		}
		if err != nil {
			return fmt.Errorf("%w\nnothing was changed on any host", &hostsetup.Error{Host: n.Hostname, Step: "checking the host before installing", Err: err})
		}
		clients[n.Hostname] = c
	}
	for i, n := range nodes {
		start := time.Now()
		fmt.Fprintf(a.Stdout, "[%d/%d] %s (%s): installing %s\n", i+1, len(nodes), n.Hostname, n.Kind, hostsetup.KindPackage(n.Kind))
		c := clients[n.Hostname]
		res, err := hostsetup.InstallPackages(ctx, c, n.Kind, files)
		if err != nil {
			return &hostsetup.Error{Host: n.Hostname, Step: "installing packages", Err: err}
		}
		if !res.Changed {
			fmt.Fprintf(a.Stdout, "[%d/%d] %s: already current (%s)\n", i+1, len(nodes), n.Hostname, time.Since(start).Round(100*time.Millisecond))
			continue
		}
		restarted, err := hostsetup.RestartEnabled(ctx, c, hs.cfg, n)
		if err != nil {
			return &hostsetup.Error{Host: n.Hostname, Step: "restarting units after the upgrade", Err: err}
		}
		fmt.Fprintf(a.Stdout, "[%d/%d] %s: %s; %d units restarted (%s)\n", i+1, len(nodes), n.Hostname, res.Summary, restarted, time.Since(start).Round(100*time.Millisecond))
	}
	return nil
}

// syncCommand is `spire infra sync NODE` and `sync-supervisor`.
func (a *app) syncCommands(hf *hostFlags) []*cobra.Command {
	run := func(cmd *cobra.Command, pick func(*config.Config, []string) ([]config.Node, error), args []string) error {
		ws, cfg, err := a.workspaceConfig()
		if err != nil {
			return err
		}
		nodes, err := pick(cfg, args)
		if err != nil {
			return err
		}
		hs, err := a.connectHosts(ws, cfg, hf)
		if err != nil {
			return err
		}
		defer hs.Close()
		for _, n := range nodes {
			c, err := hs.dial(cmd.Context(), n)
			if err != nil {
				return err
			}
			if _, err := c.Run(cmd.Context(), "sync", nil); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "%s: synced\n", n.Hostname)
		}
		return nil
	}
	return []*cobra.Command{
		{
			Use:   "sync NODE...",
			Short: "Flush nodes' file system buffers to disk (before a hard reset)",
			Long: `Run sync on each NODE over SSH, so what its services wrote is on disk before
you power-cycle it.` + sshHelp,
			Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return run(cmd, func(cfg *config.Config, args []string) ([]config.Node, error) { return nodesOf(cfg, args) }, args)
			},
		},
		{
			Use:   "sync-supervisor",
			Short: "Flush the supervisor's file system buffers to disk",
			Long: `Run sync on the supervisor over SSH (the end of the original's seq
supervisor), so the keyserver's state and audit log are on disk.` + sshHelp,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				return run(cmd, func(cfg *config.Config, _ []string) ([]config.Node, error) {
					return []config.Node{cfg.Supervisor()}, nil
				}, nil)
			},
		},
	}
}
