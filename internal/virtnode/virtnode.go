// Package virtnode is the first process of a virtual node (cmd/virtnode):
// inside the namespaces spire virt up made, it sets the hostname, binds the
// node's own folders over the production paths and supervises the node's
// services from the service map. It runs on the node side: it must not
// link spire's host-side code (the disaster key, the authorities).
package virtnode

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/supervise"
	"homeworld.dev/homeworld/internal/version"
)

// Command is virtnode: the first process of a virtual node. spire
// starts it in fresh UTS and mount namespaces inside the node's network
// namespace; it sets the hostname, binds the node's folders over the
// production paths, then supervises the node's services until SIGTERM.
func Command() *cobra.Command {
	var setupPath, hostname, binDir, logDir, hostsFile, control string
	var binds []string
	c := &cobra.Command{
		Use:   "virtnode",
		Short: "The service manager of one virtual Homeworld node (started by spire virt up)",
		Long: `virtnode is the first process of a virtual node. spire virt up starts it inside
the node's own network, UTS and mount namespaces. It sets the node's hostname,
bind-mounts the node's own folders over /etc/homeworld, /etc/ssh,
/var/lib/homeworld and /var/log/homeworld (and its own /etc/hosts), then starts
the node's services from the service map in dependency order and restarts any
that fail. It serves /status and /metrics on the node's address, port ` + services.NodeSupervisor.PortString() + `.
Not meant to be run by hand.`,
		Version:       version.String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := config.Load(setupPath)
			if err != nil {
				return err
			}
			node, ok := cfg.FindNode(hostname)
			if !ok {
				return fmt.Errorf("no node %q in %s", hostname, setupPath)
			}
			if err := enterNode(hostname, binds, hostsFile); err != nil {
				return err
			}
			return superviseNode(cmd.Context(), cfg, node, binDir, logDir, control)
		},
	}
	f := c.Flags()
	f.StringVar(&setupPath, "setup", "", "the cluster's setup.yaml")
	f.StringVar(&hostname, "node", "", "hostname of this node in setup.yaml")
	f.StringVar(&binDir, "bin-dir", "", "folder holding Homeworld's binaries")
	f.StringVar(&logDir, "log-dir", "", "folder for the services' output")
	f.StringVar(&hostsFile, "hosts", "", "file to show as /etc/hosts")
	f.StringArrayVar(&binds, "bind", nil, "SRC:DST folder to show at DST (repeatable)")
	f.StringVar(&control, "control", "", "unix socket for stopping and starting services (root only)")
	for _, name := range []string{"setup", "node", "bin-dir", "log-dir"} {
		c.MarkFlagRequired(name)
	}
	return c
}

// enterNode makes the mount namespace private (nothing propagates back to
// the host), sets the hostname, gives the node its own /run and /sys and
// binds the node's folders.
func enterNode(hostname string, binds []string, hostsFile string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private (not in a mount namespace?): %w", err)
	}
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("setting hostname: %w", err)
	}
	// A /run of its own: containerd's sockets and state, pods' network
	// namespaces.
	if err := unix.Mount("tmpfs", "/run", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mounting /run: %w", err)
	}
	if err := ownSysfs(); err != nil {
		return err
	}
	if hostsFile != "" {
		binds = append(binds, hostsFile+":/etc/hosts")
	}
	for _, b := range binds {
		src, dst, ok := strings.Cut(b, ":")
		if !ok {
			return fmt.Errorf("--bind %q is not SRC:DST", b)
		}
		if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("binding %s over %s: %w", src, dst, err)
		}
	}
	return nil
}

// superviseNode runs the node's services from the service map.
func superviseNode(ctx context.Context, cfg *config.Config, node config.Node, binDir, logDir, control string) error {
	logger := log.New(os.Stderr, "virtnode "+node.Hostname+": ", log.LstdFlags)
	host := services.Host{Cluster: cfg, Node: node, BinDir: binDir}
	var specs []supervise.Spec
	for _, s := range services.On(cfg, node) {
		f, err := os.OpenFile(filepath.Join(logDir, s.Name+".log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		specs = append(specs, supervise.Spec{
			Name:       s.Name,
			Unit:       s.Unit(),
			Type:       s.UnitType(),
			Argv:       s.Argv(host),
			Deps:       services.Deps(s, node.Kind),
			Ready:      s.Ready.On(host).Probe,
			RestartSec: min(s.RestartSec, time.Second), // a virtual cluster favours quick recovery
			Log:        f,
		})
	}
	sup, err := supervise.New(specs, supervise.Options{Logf: logger.Printf})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", services.NodeSupervisor.Addr(node.IP))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sup.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	if control != "" {
		os.Remove(control)
		cl, err := net.Listen("unix", control)
		if err != nil {
			return err
		}
		os.Chmod(control, 0o600)
		csrv := &http.Server{Handler: sup.ControlHandler(), ReadHeaderTimeout: 5 * time.Second}
		go csrv.Serve(cl)
		defer csrv.Close()
	}
	logger.Printf("running %d services", len(specs))
	return sup.Run(ctx)
}
