package spirecmd

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/disaster"
	"homeworld.dev/homeworld/internal/keytab"
	"homeworld.dev/homeworld/internal/workspace"
)

func (a *app) keytabCommand() *cobra.Command {
	c := group("keytab", "Keep the supervisor's Kerberos keytab, sealed with the disaster key",
		a.keytabImportCommand(),
		a.keytabRotateCommand(),
		a.keytabDeloldCommand(),
		a.keytabListCommand(),
		a.keytabExportCommand(),
	)
	c.Long = `A keytab holds a Kerberos service's keys. The supervisor's key gateway
accepts admins' Kerberos tickets with it (and gives them cluster credentials
in exchange), so it needs one; no other node normally does. spire keeps it in
the workspace as keytab.<node>.crypt, sealed with the disaster key like the
authorities; ` + "`spire setup keygateway`" + ` uploads it to the supervisor.

The supervisor's keytab should hold, in the realm of setup.yaml's
cluster.kerberos-realm:
  HTTP/<supervisor fqdn>@REALM   the key gateway's service key
  host/<supervisor fqdn>@REALM   for auth-monitor's check of the gateway
where <supervisor fqdn> is <hostname>.<external-domain>.

Making one, as an admin of the realm:
  kadmin -q "addprinc -randkey HTTP/supervisor.cluster.example.org"
  kadmin -q "addprinc -randkey host/supervisor.cluster.example.org"
  kadmin -q "ktadd -k sup.keytab HTTP/supervisor.cluster.example.org host/supervisor.cluster.example.org"
  spire keytab import supervisor sup.keytab && shred -u sup.keytab

Changing its keys from time to time:
  spire keytab rotate supervisor     # new keys, old ones kept
  spire setup keygateway             # at once: the realm uses the new keys
  # after the realm's maximum ticket life (tickets issued before need the old keys):
  spire keytab delold supervisor
  spire setup keygateway`
	return c
}

func (a *app) keytabImportCommand() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "import NODE FILE",
		Short: "Seal the keytab FILE with the disaster key as NODE's keytab",
		Long: `Check that FILE is an MIT keytab, seal it with the disaster key and store it
in the workspace as keytab.<NODE>.crypt (mode 0600), then print the
principals and key versions (kvno) it holds. NODE is a node of setup.yaml,
normally the supervisor. An existing keytab is replaced only with --force.

The disaster key must be the cluster's: it has to open the authorities (or
the keytabs) already in the workspace. FILE itself is left as it is; remove
it once imported (shred -u FILE).`,
		Example: "  spire keytab import supervisor sup.keytab",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, cfg, node, err := a.keytabNode(args[0])
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[1])
			if err != nil {
				return err
			}
			entries, err := keytab.Parse(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[1], err)
			}
			path := keytab.SealedPath(ws.Dir, node.Hostname)
			if _, err := os.Lstat(path); err == nil && !force {
				return fmt.Errorf("%s already has a keytab (%s); pass --force to replace it", node.Hostname, path)
			}
			key, err := a.clusterKey(ws)
			if err != nil {
				return err
			}
			if _, err := keytab.Store(ws.Dir, node.Hostname, data, key, force); err != nil {
				if errors.Is(err, keytab.ErrExists) {
					return fmt.Errorf("%w; pass --force to replace it", err)
				}
				return err
			}
			fmt.Fprintf(a.Stdout, "sealed the keytab of %s in %s:\n%s", node.Hostname, path, keytab.Versions(entries))
			a.warnPrincipals(cfg, node, entries)
			return nil
		},
	}
	c.Flags().BoolVar(&force, "force", false, "replace the node's stored keytab")
	return c
}

// warnPrincipals says what the supervisor's keytab lacks for the gateway.
func (a *app) warnPrincipals(cfg *config.Config, node config.Node, entries []keytab.Entry) {
	if node.Kind != config.KindSupervisor {
		return
	}
	realm := cfg.Cluster.KerberosRealm
	if realm == "" {
		fmt.Fprintln(a.Stderr, "warning: cluster.kerberos-realm is empty in setup.yaml, so the key gateway does not run and this keytab is not used")
		return
	}
	warning, err := keytab.CheckSupervisor(cfg, entries)
	if err != nil {
		// Only a warning here: import stores it anyway, setup keygateway refuses it.
		warning = err.Error()
	}
	if warning != "" {
		fmt.Fprintf(a.Stderr, "warning: %s (see `spire keytab --help`)\n", warning)
	}
}

func (a *app) keytabRotateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate NODE",
		Short: "Give each principal of NODE's keytab a new random key",
		Long: `Change the key of every principal in NODE's keytab, in the realm and in the
keytab, with MIT's k5srvutil (from krb5-user):
  k5srvutil -f KEYTAB change -e ` + keytab.Enctypes + `
It authenticates to the realm's kadmind as each principal with the keytab's
own key: no admin password is asked. The realm is the one your krb5.conf
(or KRB5_CONFIG) names. The keytab is in clear only in a private temporary
file, overwritten and removed afterwards.

The old keys stay in the keytab: tickets issued before need them until they
expire. The realm issues tickets for the new keys at once, so upload the
keytab to the supervisor right away (spire setup keygateway), and after the
realm's maximum ticket life remove the old keys (spire keytab delold).

If some principals fail (say, one's key was changed elsewhere), the keys that
did change are still saved, and the error names the others.`,
		Example: "  spire keytab rotate supervisor",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, _, node, err := a.keytabNode(args[0])
			if err != nil {
				return err
			}
			key, err := a.disasterKey()
			if err != nil {
				return err
			}
			c, err := a.keytabTools().Rotate(cmd.Context(), ws.Dir, node.Hostname, key)
			if c != nil {
				was, now := keytab.Newest(c.Before), keytab.Newest(c.After)
				for _, p := range keytab.Principals(c.Before) {
					fmt.Fprintf(a.Stdout, "%s: kvno %d -> %d\n", p, was[p], now[p])
				}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "rotated the keytab of %s; upload it now (spire setup keygateway), and after the realm's maximum ticket life run `spire keytab delold %s`\n", node.Hostname, node.Hostname)
			return nil
		},
	}
}

func (a *app) keytabDeloldCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delold NODE",
		Short: "Remove the keys older than each principal's newest from NODE's keytab",
		Long: `Remove from NODE's keytab every key older than its principal's newest, with
MIT's k5srvutil (` + "`k5srvutil -f KEYTAB delold`" + `, which authenticates to
kadmind with the keytab's keys, like rotate). Run it once tickets issued
before the last rotate have expired (the realm's maximum ticket life), then
upload the keytab (spire setup keygateway). With no old keys it does nothing.`,
		Example: "  spire keytab delold supervisor",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, _, node, err := a.keytabNode(args[0])
			if err != nil {
				return err
			}
			key, err := a.disasterKey()
			if err != nil {
				return err
			}
			c, err := a.keytabTools().DeleteOld(cmd.Context(), ws.Dir, node.Hostname, key)
			if c != nil {
				fmt.Fprintf(a.Stdout, "keys of %s now:\n%s", node.Hostname, keytab.Versions(c.After))
			}
			if err != nil {
				return err
			}
			if len(c.After) == len(c.Before) {
				fmt.Fprintln(a.Stdout, "no old keys to remove")
			}
			return nil
		},
	}
}

func (a *app) keytabListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list [NODE]",
		Short: "Show the principals, key versions and key types of the stored keytabs",
		Long: `Unseal the stored keytabs (or NODE's only) with the disaster key and list
their entries: key version (kvno), key type, when the key was written to the
keytab, and principal. The keys themselves are never shown.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ws *workspace.Workspace
			var nodes []string
			if len(args) == 1 {
				w, _, node, err := a.keytabNode(args[0])
				if err != nil {
					return err
				}
				ws, nodes = w, []string{node.Hostname}
			} else {
				w, err := a.workspace()
				if err != nil {
					return err
				}
				ws = w
				if nodes, err = keytab.Nodes(ws.Dir); err != nil {
					return err
				}
				if len(nodes) == 0 {
					fmt.Fprintf(a.Stdout, "no keytabs in %s (add one with `spire keytab import supervisor FILE`)\n", ws.Dir)
					return nil
				}
			}
			key, err := a.disasterKey()
			if err != nil {
				return err
			}
			for i, node := range nodes {
				entries, err := keytab.List(ws.Dir, node, key)
				if err != nil {
					return err
				}
				if i > 0 {
					fmt.Fprintln(a.Stdout)
				}
				a.printKeytab(node, keytab.SealedPath(ws.Dir, node), entries)
			}
			return nil
		},
	}
}

func (a *app) printKeytab(node, path string, entries []keytab.Entry) {
	fmt.Fprintf(a.Stdout, "%s (%s):\n", node, path)
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  KVNO\tENCTYPE\tTIMESTAMP\tPRINCIPAL")
	for _, e := range entries {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", e.KVNO, e.Enctype, e.Timestamp.UTC().Format(time.RFC3339), e.Principal)
	}
	tw.Flush()
}

func (a *app) keytabExportCommand() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "export NODE FILE",
		Short: "Write NODE's keytab in clear to FILE (mode 0600)",
		Long: `Unseal NODE's keytab and write it in clear to FILE, readable only by you,
e.g. to inspect it with klist -k -t -e FILE or to install it by hand. An
existing FILE is replaced only with --force. Remove FILE when done
(shred -u FILE): it holds the service's keys.`,
		Example: "  spire keytab export supervisor /tmp/sup.keytab && klist -k -t -e /tmp/sup.keytab",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, _, node, err := a.keytabNode(args[0])
			if err != nil {
				return err
			}
			key, err := a.disasterKey()
			if err != nil {
				return err
			}
			if err := keytab.Export(ws.Dir, node.Hostname, key, args[1], force); err != nil {
				if errors.Is(err, os.ErrExist) {
					return fmt.Errorf("%s already exists; pass --force to replace it", args[1])
				}
				return err
			}
			fmt.Fprintf(a.Stdout, "wrote the keytab of %s in clear to %s (mode 0600); remove it when done (shred -u %s)\n", node.Hostname, args[1], args[1])
			return nil
		},
	}
	c.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	return c
}

// keytabNode opens the workspace and finds the node named in setup.yaml.
func (a *app) keytabNode(name string) (*workspace.Workspace, *config.Config, config.Node, error) {
	ws, cfg, err := a.workspaceConfig()
	if err != nil {
		return nil, nil, config.Node{}, err
	}
	node, ok := cfg.FindNode(name)
	if !ok {
		return nil, nil, config.Node{}, fmt.Errorf("no node named %q in %s (keytabs are kept per node; the supervisor's is %q)", name, ws.SetupPath(), cfg.Supervisor().Hostname)
	}
	return ws, cfg, node, nil
}

// clusterKey loads the disaster key and checks that it opens the
// authorities, if the workspace has them: a keytab sealed with another key
// could not be opened with the cluster's. (keytab.Store checks it against
// the stored keytabs.)
func (a *app) clusterKey(ws *workspace.Workspace) (*disaster.Key, error) {
	key, err := a.disasterKey()
	if err != nil {
		return nil, err
	}
	if store := authority.NewStore(ws.Dir); store.Exists() {
		if _, err := store.Load(key); err != nil {
			return nil, fmt.Errorf("refusing to seal with this disaster key: %w", err)
		}
	}
	return key, nil
}

// keytabTools runs k5srvutil with the environment as spire sees it.
func (a *app) keytabTools() keytab.Tools {
	return keytab.Tools{Env: a.krb5Env(), TempDir: a.getenv("TMPDIR")}
}

// krb5Vars are the variables that point the krb5 tools at a realm and
// their caches.
var krb5Vars = []string{"KRB5_CONFIG", "KRB5CCNAME", "KRB5RCACHEDIR", "KRB5_TRACE"}

// krb5Env is the environment of the krb5 tools spire runs: its own, with
// krb5Vars as a.getenv has them (a test's realm, in tests).
func (a *app) krb5Env() []string {
	if a.Getenv == nil {
		return nil
	}
	var env []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !slices.Contains(krb5Vars, name) {
			env = append(env, kv)
		}
	}
	for _, name := range krb5Vars {
		if v := a.getenv(name); v != "" {
			env = append(env, name+"="+v)
		}
	}
	return env
}
