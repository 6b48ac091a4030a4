package spirecmd

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/virt"
)

// upSystemdHosts is `spire virt up --hosts systemd`.
func (a *app) upSystemdHosts(ctx context.Context, bin, branch string) error {
	if branch == "" {
		return fmt.Errorf("--hosts systemd needs --branch DIR: a folder spire branch build published (the hosts install Homeworld from it)")
	}
	ws, cfg, err := a.workspaceConfig()
	if err != nil {
		return err
	}
	keyPath := access.SSHKeyPath(ws.Dir)
	if _, err := access.LoadOrCreateSSHKey(keyPath); err != nil {
		return err
	}
	pub, err := os.ReadFile(keyPath + ".pub")
	if err != nil {
		return err
	}
	spire, err := os.Executable()
	if err != nil {
		return err
	}
	t, err := virt.NewTopology(ws.Dir, cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := virt.UpHosts(ctx, virt.HostsOptions{Workspace: ws.Dir, Config: cfg, Branch: branch,
		AuthorizedKey: pub, Spire: spire, BinDir: bin, Out: a.Stdout}); err != nil {
		return err
	}
	if err := os.WriteFile(aptURLFile(ws), []byte(virt.BranchURL(t)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "== %d systemd hosts booted in %.1fs; set them up over SSH:\n", len(cfg.Nodes), time.Since(start).Seconds())
	fmt.Fprintf(a.Stdout, "  spire access pull-supervisor-key %[1]s\n  spire infra install-packages --host-keys %[1]s\n  spire seq supervisor\n  spire setup node --all\n  spire seq cluster\n", t.HostKeysFile())
	return nil
}

// serveBranchCommand is the branch server virt up --hosts systemd starts.
func (a *app) serveBranchCommand() *cobra.Command {
	var dir, listen string
	c := &cobra.Command{
		Use:    "serve-branch --dir DIR --listen ADDR",
		Short:  "Serve a published apt branch read-only over HTTP (started by virt up --hosts systemd)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return virt.ServeBranch(ctx, dir, listen, log.New(a.Stderr, "", log.LstdFlags))
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "the branch folder")
	c.Flags().StringVar(&listen, "listen", "", "address:port")
	c.MarkFlagRequired("dir")
	c.MarkFlagRequired("listen")
	return c
}
