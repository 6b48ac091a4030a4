package spirecmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/dnsaddon"
	"homeworld.dev/homeworld/internal/dnsmonitor"
	"homeworld.dev/homeworld/internal/flannelmonitor"
	"homeworld.dev/homeworld/internal/hostsetup"
	"homeworld.dev/homeworld/internal/rbac"
	"homeworld.dev/homeworld/internal/setupqueue"
	"homeworld.dev/homeworld/internal/virt"
	"homeworld.dev/homeworld/internal/workspace"
)

// applyHelp ends every deploy command's help: how it applies.
const applyHelp = `

The manifest goes into the setup queue on the supervisor
(/etc/homeworld/deployqueue), whose service applies it server-side as field
manager "homeworld"; deploying again changes nothing. spire waits until the
queue has applied it (--wait) and reports each object as created, changed or
unchanged. --export prints the objects instead, and touches nothing.

On real hosts spire writes the item over SSH (see 'spire setup --help' for
how it logs in); on the virtual cluster's fast path, into the supervisor's
folder.`

func (a *app) deployCommand() *cobra.Command {
	dnsCmd := a.addonCommand("dns-addon", "Deploy the cluster DNS (CoreDNS) into Kubernetes",
		`Render the cluster DNS add-on from setup.yaml and apply it: CoreDNS, two
replicas spread over the nodes, the kube-dns Service at addresses.service-dns
(port 53), names of internal-domain and the reverse zones of the pod and
service ranges from Kubernetes, everything else forwarded to dns-upstreams.
A virtual cluster forwards to its own resolver on the host instead.`, dnsManifest)
	flannelCmd := a.addonCommand("flannel", "Deploy flannel's access to the Kubernetes API",
		`flannel itself is not deployed into Kubernetes: flanneld runs on every master
and worker as a service of the service map (spire virt service NODE flannel,
or the node's systemd), with a keysystem certificate in group
`+rbac.FlannelGroup+`. This applies what that group may do in the API: read
nodes and patch their status, nothing else.`,
		func(*workspace.Workspace, *config.Config) (string, error) { return rbac.FlannelManifest(), nil })
	flannelMonCmd := a.addonCommand("flannel-monitor", "Deploy the pod network's monitor (flannel-monitor) into Kubernetes",
		`Render flannel-monitor from setup.yaml and apply it in kube-system: a
monitor on every master and worker (a DaemonSet; each answers pings and pings
every node's monitor), and one collector (Deployment) behind the Service
`+flannelmonitor.Service+`, which Prometheus reads through the apiserver.
Its service account may read pods in kube-system and list nodes.`,
		flannelMonitorManifest)
	var upstream []string
	dnsMonCmd := a.addonCommand("dns-monitor", "Deploy the cluster DNS's monitor (dns-monitor) into Kubernetes",
		`Render dns-monitor from setup.yaml and apply it in kube-system: one pod that
resolves the API's and the cluster DNS's Service names every 15 seconds and
checks their addresses, behind the Service `+dnsmonitor.Name+`, which Prometheus
reads through the apiserver. --upstream-check NAME=IP adds a name outside the
cluster that only forwarding to dns-upstreams answers; a virtual cluster
checks its own resolver's name, `+virt.UpstreamCheckName+`, unless given one.`,
		func(ws *workspace.Workspace, cfg *config.Config) (string, error) {
			return dnsMonitorManifest(ws, cfg, upstream)
		})
	dnsMonCmd.Flags().StringArrayVar(&upstream, "upstream-check", nil, "NAME=IP outside the cluster, answered only through forwarding (repeatable)")
	c := group("deploy", "Deploy Homeworld's add-ons into the cluster's Kubernetes", dnsCmd, flannelCmd, flannelMonCmd, dnsMonCmd)
	return c
}

// addonCommand is "spire deploy NAME": render the manifest and apply it,
// or print it with --export.
func (a *app) addonCommand(name, short, long string, render func(*workspace.Workspace, *config.Config) (string, error)) *cobra.Command {
	var wait time.Duration
	var export bool
	var hf hostFlags
	c := &cobra.Command{
		Use:   name,
		Short: short,
		Long:  long + applyHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			m, err := render(ws, cfg)
			if err != nil {
				return err
			}
			if export {
				_, err := fmt.Fprint(a.Stdout, m)
				return err
			}
			var records []setupqueue.Record
			if a.overSSH(ws, cfg) {
				records, err = a.deployOverSSH(cmd.Context(), ws, cfg, &hf, wait, hostsetup.Manifest{Name: name, Text: m})
			} else {
				records, err = a.deployVirtual(cmd.Context(), ws, cfg, wait, virt.Manifest{Name: name, Text: m})
			}
			if err != nil {
				return err
			}
			for _, o := range records[0].Objects {
				fmt.Fprintln(a.Stdout, o)
			}
			return nil
		},
	}
	c.Flags().DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for the setup queue to apply it (it keeps trying after)")
	c.Flags().BoolVar(&export, "export", false, "print the objects instead of applying them")
	hf.register(c)
	return c
}

// overSSH reports whether spire reaches the workspace's nodes over SSH:
// real hosts and systemd hosts, not the fast path's namespaces.
func (a *app) overSSH(ws *workspace.Workspace, cfg *config.Config) bool {
	return !virt.IsVirtual(ws.Dir) || virt.SystemdHosts(ws.Dir, cfg)
}

// deployVirtual queues manifests in the fast path's supervisor folder.
func (a *app) deployVirtual(ctx context.Context, ws *workspace.Workspace, cfg *config.Config, wait time.Duration, ms ...virt.Manifest) ([]setupqueue.Record, error) {
	t, err := virt.NewTopology(ws.Dir, cfg)
	if err != nil {
		return nil, err
	}
	items, err := virt.Enqueue(t, ms...)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(a.Stderr, "queued %d items on the supervisor; waiting for the setup queue to apply them\n", len(items))
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return virt.WaitApplied(ctx, t, items)
}

// deployOverSSH writes manifests into the supervisor's setup queue over
// SSH and waits until they are applied.
func (a *app) deployOverSSH(ctx context.Context, ws *workspace.Workspace, cfg *config.Config, hf *hostFlags, wait time.Duration, ms ...hostsetup.Manifest) ([]setupqueue.Record, error) {
	hs, err := a.connectHosts(ws, cfg, hf)
	if err != nil {
		return nil, err
	}
	defer hs.Close()
	c, err := hs.dial(ctx, cfg.Supervisor())
	if err != nil {
		return nil, err
	}
	items, err := hostsetup.Enqueue(ctx, c, setupqueue.DefaultDir, ms)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(a.Stderr, "queued %s on the supervisor; waiting for the setup queue to apply them\n", strings.Join(items, ", "))
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return hostsetup.WaitApplied(ctx, c, setupqueue.DefaultDir, items)
}

// flannelMonitorManifest is flannel-monitor for the workspace's cluster; a
// virtual cluster's measures as often as virt up applies it.
func flannelMonitorManifest(ws *workspace.Workspace, cfg *config.Config) (string, error) {
	var o flannelmonitor.Options
	if virt.IsVirtual(ws.Dir) {
		o = virt.FlannelMonitorOptions()
	}
	return flannelmonitor.Manifest(cfg, o)
}

// dnsManifest is the DNS add-on of the workspace's cluster; a virtual
// cluster's forwards to its resolver on the host, as virt up applies it.
func dnsManifest(ws *workspace.Workspace, cfg *config.Config) (string, error) {
	var o dnsaddon.Options
	if virt.IsVirtual(ws.Dir) {
		t, err := virt.NewTopology(ws.Dir, cfg)
		if err != nil {
			return "", err
		}
		o.Upstreams = virt.DNSUpstreams(t)
	}
	return dnsaddon.Manifest(cfg, o)
}

// dnsMonitorManifest is dns-monitor for the workspace's cluster: checking
// the upstream names given, or a virtual cluster's own, as virt up
// applies it.
func dnsMonitorManifest(ws *workspace.Workspace, cfg *config.Config, upstream []string) (string, error) {
	var o dnsmonitor.Options
	if len(upstream) > 0 {
		exp, err := dnsmonitor.ParseExpectations(upstream)
		if err != nil {
			return "", fmt.Errorf("--upstream-check: %w", err)
		}
		o.Upstream = exp
	} else if virt.IsVirtual(ws.Dir) {
		o = virt.DNSMonitorOptions()
	}
	if virt.IsVirtual(ws.Dir) {
		o.Interval = virt.MonitorInterval
	}
	return dnsmonitor.Manifest(cfg, o)
}
