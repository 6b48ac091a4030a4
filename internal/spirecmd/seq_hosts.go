package spirecmd

import (
	"context"
	"fmt"
	"os"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/hostsetup"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/seq"
	"homeworld.dev/homeworld/internal/setupqueue"
	"homeworld.dev/homeworld/internal/verify"
	"homeworld.dev/homeworld/internal/virt"
	"homeworld.dev/homeworld/internal/workspace"
)

// supervisorHostSteps is `spire seq supervisor` on real (or systemd)
// hosts, the original's sequence: the keysystem (keyserver, its static
// files, self-admission, the key gateway's keytab), the supervisor's credentials, Prometheus, SSH by
// certificates, the images into the registry, the cluster's manifests into
// the setup queue, then the supervisor's checks.
func (a *app) supervisorHostSteps(ws *workspace.Workspace, cfg *config.Config, hf *hostFlags, images string, p *verify.Prometheus) ([]seq.Step, func(), error) {
	var hs *hosts
	var s *adminSession
	closeAll := func() {
		if hs != nil {
			hs.Close()
		}
		if s != nil {
			s.admin.Close()
		}
	}
	sup := cfg.Supervisor()
	connect := func(ctx context.Context) error {
		var err error
		if s == nil {
			if s, err = a.connectBreakGlass(&keyserverFlags{}); err != nil {
				return err
			}
		}
		if hs == nil {
			if hs, err = a.connectHosts(ws, cfg, hf); err != nil {
				return err
			}
		}
		c, err := hs.dial(ctx, sup)
		if err != nil {
			return err
		}
		_, err = c.Run(ctx, "true", nil)
		return err
	}
	setupYAML, err := os.ReadFile(ws.SetupPath())
	if err != nil {
		return nil, closeAll, err
	}
	steps := []seq.Step{
		{Name: "supervisor accessible over SSH", Run: connect},
		{Name: "setup keyserver", Run: func(ctx context.Context) error {
			return a.setupKeyserver(ctx, hs, setupYAML, s.auths)
		}},
		{Name: "verify keystatics: the keyserver serves cluster.conf", Run: func(ctx context.Context) error {
			_, err := queryKeyURL(ctx, ws.Dir, cfg, keyapi.PathStatic+"cluster.conf")
			return err
		}},
		{Name: "setup self-admit", Run: func(ctx context.Context) error {
			return a.admitHost(ctx, hs, s, sup)
		}},
		{Name: "setup keygateway: the supervisor's keytab (where setup.yaml names a Kerberos realm)", Run: func(ctx context.Context) error {
			return a.setupKeygateway(ctx, hf, "", "", false)
		}},
		{Name: "setup prometheus", Run: func(ctx context.Context) error {
			return a.setupPrometheus(ctx, hs)
		}},
		{Name: "access ssh, setup supervisor-ssh, verify ssh-with-certs", Run: func(ctx context.Context) error {
			return a.certificateSSH(ctx, hs, s, sup)
		}},
		{Name: "registry push: the build's images into the supervisor's registry", Run: func(ctx context.Context) error {
			return a.pushImages(ctx, &keyserverFlags{}, images, "", false, false)
		}},
	}
	if len(cfg.NodesOf(config.KindMaster)) > 0 {
		steps = append(steps, seq.Step{Name: "deploy: RBAC and add-ons into the setup queue", Run: func(ctx context.Context) error {
			ms, err := clusterManifests(ws, cfg)
			if err != nil {
				return err
			}
			c, err := hs.dial(ctx, sup)
			if err != nil {
				return err
			}
			items, err := hostsetup.Enqueue(ctx, c, setupqueue.DefaultDir, ms)
			if err == nil {
				fmt.Fprintf(a.Stdout, "queued %d items; the setup queue applies them once the masters' API answers\n", len(items))
			}
			return err
		}})
	}
	steps = append(steps, verify.SupervisorSequence(cfg, p)...)
	return steps, closeAll, nil
}

// clusterManifests are what the supervisor queues for the cluster: RBAC,
// then the add-ons, rendered as spire deploy renders each (a virtual
// cluster's with its own resolver and intervals).
func clusterManifests(ws *workspace.Workspace, cfg *config.Config) ([]hostsetup.Manifest, error) {
	var out []hostsetup.Manifest
	for _, m := range virt.RBACManifests(cfg) {
		out = append(out, hostsetup.Manifest{Name: m.Name, Text: m.Text})
	}
	addons := []struct {
		name   string
		render func(*workspace.Workspace, *config.Config) (string, error)
	}{
		{"dns-addon", dnsManifest},
		{"flannel-monitor", flannelMonitorManifest},
		{"dns-monitor", func(ws *workspace.Workspace, cfg *config.Config) (string, error) {
			return dnsMonitorManifest(ws, cfg, nil)
		}},
	}
	for _, a := range addons {
		text, err := a.render(ws, cfg)
		if err != nil {
			return nil, err
		}
		out = append(out, hostsetup.Manifest{Name: a.name, Text: text})
	}
	return out, nil
}
