package spirecmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/hostsetup"
	"homeworld.dev/homeworld/internal/kerberos"
	"homeworld.dev/homeworld/internal/keytab"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/virt"
)

func (a *app) setupKeygatewayCommands(hf *hostFlags) []*cobra.Command {
	var krb5conf, root string
	mk := func(use string, replace bool) *cobra.Command {
		short := "Install the supervisor's keytab and start the Kerberos key gateway"
		long := `Unseal the supervisor's keytab (imported with 'spire keytab import') with the
disaster key and install it on the supervisor as ` + layout.Keytab + ` (mode 0600), with
the realm's krb5.conf (--krb5-conf) as ` + layout.Krb5Conf + `, then make
sure keygateway.service runs. The keytab must hold HTTP/<supervisor fqdn>@REALM
(the gateway's service) and should hold host/<supervisor fqdn>@REALM
(auth-monitor's check of the gateway). An existing, different keytab is not
replaced: that is what 'spire setup update-keygateway' is for. Nothing to do
when setup.yaml names no cluster.kerberos-realm. With --root the files are
written below a local folder instead (a supervisor's root as another machine
sees it); in a virtual cluster's workspace that is its supervisor's.`
		if replace {
			short = "Replace the supervisor's keytab (after 'spire keytab rotate') and restart the key gateway"
			long = `As 'spire setup keygateway', but replace a keytab the supervisor already holds:
after 'spire keytab rotate', before 'spire keytab delold'. The gateway rereads
its keytab when it changes; it is restarted anyway so the change is certain.`
		}
		c := &cobra.Command{
			Use: use, Short: short, Long: long + sshHelp, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return a.setupKeygateway(cmd.Context(), hf, krb5conf, root, replace)
			},
		}
		c.Flags().StringVar(&krb5conf, "krb5-conf", "", "the realm's krb5.conf to install (default: $KRB5_CONFIG, else /etc/krb5.conf)")
		c.Flags().StringVar(&root, "root", "", "write below this local folder instead of over SSH")
		return c
	}
	return []*cobra.Command{mk("keygateway", false), mk("update-keygateway", true)}
}

// setupKeygateway installs the keytab and krb5.conf on the supervisor and
// waits until the gateway runs.
func (a *app) setupKeygateway(ctx context.Context, hf *hostFlags, krb5conf, root string, replace bool) error {
	ws, cfg, err := a.workspaceConfig()
	if err != nil {
		return err
	}
	if cfg.Cluster.KerberosRealm == "" {
		fmt.Fprintln(a.Stdout, "setup.yaml names no cluster.kerberos-realm: Kerberos is disabled, no key gateway to set up")
		return nil
	}
	sup := cfg.Supervisor()
	key, err := a.disasterKey()
	if err != nil {
		return err
	}
	kt, err := keytab.Unseal(ws.Dir, sup.Hostname, key)
	if err != nil {
		return err
	}
	entries, err := keytab.Parse(kt)
	if err != nil {
		return fmt.Errorf("the keytab of %s: %w", sup.Hostname, err)
	}
	warning, err := keytab.CheckSupervisor(cfg, entries)
	if err != nil {
		return fmt.Errorf("the keytab of %s: %w", sup.Hostname, err)
	}
	if warning != "" {
		fmt.Fprintln(a.Stderr, "warning: "+warning)
	}
	if krb5conf == "" {
		krb5conf = kerberos.ConfigPath(a.getenv)
	}
	conf, err := os.ReadFile(krb5conf)
	if err != nil {
		return fmt.Errorf("the realm's krb5.conf: %w (name it with --krb5-conf)", err)
	}
	if root == "" && virt.IsVirtual(ws.Dir) && !virt.SystemdHosts(ws.Dir, cfg) {
		t, err := virt.NewTopology(ws.Dir, cfg)
		if err != nil {
			return err
		}
		root = t.SupervisorRoot()
	}
	if root != "" {
		return a.keygatewayLocal(layout.Node{Root: root}, kt, conf, replace)
	}
	hs, err := a.connectHosts(ws, cfg, hf)
	if err != nil {
		return err
	}
	defer hs.Close()
	c, err := hs.dial(ctx, sup)
	if err != nil {
		return err
	}
	fail := func(err error) error { return &hostsetup.Error{Host: sup.Hostname, Step: "key gateway", Err: err} }
	old, err := c.ReadFile(ctx, layout.Keytab)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fail(err)
	case !bytes.Equal(old, kt) && !replace:
		return fail(fmt.Errorf("%s holds a different keytab; 'spire setup update-keygateway' replaces it", layout.Keytab))
	}
	changed, err := hostsetup.Put(ctx, c, []hostsetup.File{
		{Path: layout.Keytab, Data: kt, Mode: 0o600},
		{Path: layout.Krb5Conf, Data: conf, Mode: 0o644},
	})
	if err != nil {
		return fail(err)
	}
	unit := []string{services.MustGet("keygateway").Unit()}
	var restart []string
	if changed {
		restart = unit
	}
	if err := hostsetup.Enable(ctx, c, unit, nil, restart); err != nil {
		return fail(err)
	}
	if err := hostsetup.WaitActive(ctx, c, unit, nil); err != nil {
		return fail(err)
	}
	state := "unchanged"
	if changed {
		state = "installed"
	}
	fmt.Fprintf(a.Stdout, "%s: keytab %s; keygateway active on %s\n", sup.Hostname, state, services.KeyGateway.Addr(sup.IP))
	return nil
}

// keygatewayLocal installs the keytab and krb5.conf below a local root. The
// gateway rereads its keytab and auth-monitor both files, so nothing is
// restarted.
func (a *app) keygatewayLocal(n layout.Node, kt, conf []byte, replace bool) error {
	path := n.Path(layout.Keytab)
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	case !bytes.Equal(old, kt) && !replace:
		return fmt.Errorf("%s holds a different keytab; 'spire setup update-keygateway' replaces it", path)
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{path, kt, 0o600}, {n.Path(layout.Krb5Conf), conf, 0o644}} {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return err
		}
		if err := renameio.WriteFile(f.path, f.data, f.mode); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.Stdout, "keytab and krb5.conf installed below %s\n", n.Root)
	return nil
}
