package spirecmd

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keyserver"
	"homeworld.dev/homeworld/internal/layout"
)

func (a *app) setupCommand() *cobra.Command {
	var root string
	var f keyserverFlags
	keyserverCmd := &cobra.Command{
		Use:   "keyserver",
		Short: "Install the keyserver's files (setup.yaml, unsealed authorities) below a root folder",
		Long: `Install what the keyserver reads into the supervisor's filesystem below --root:
setup.yaml into /etc/homeworld/config/ and the authorities, unsealed with the
disaster key, into /etc/homeworld/keyserver/authorities/ (private keys mode
0600, folder 0700). The supervisor is the only place authority keys exist in
clear. Re-running it replaces the files with the workspace's current ones.`,
		Example: `  spire setup keyserver --root /            # on the supervisor itself
  spire setup keyserver --root /srv/virt/supervisor`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := a.workspace()
			if err != nil {
				return err
			}
			if _, err := a.config(ws); err != nil {
				return err
			}
			key, err := a.disasterKey()
			if err != nil {
				return err
			}
			set, err := authority.NewStore(ws.Dir).Load(key)
			if err != nil {
				return err
			}
			setup, err := os.ReadFile(ws.SetupPath())
			if err != nil {
				return err
			}
			if err := keyserver.Install(layout.Node{Root: root}, setup, set); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "installed setup.yaml and %d authorities below %s\n", len(set.List), root)
			return nil
		},
	}
	nodeCmd := &cobra.Command{
		Use:   "node NODE",
		Short: "Install a node's bootstrap files (keyserver name, cluster CA, admission token)",
		Long: `Do what the installer does for NODE, below --root: write the keyserver's name,
the cluster CA certificate the keyclient trusts it by, and a fresh one-time
admission token obtained from the keyserver. Starting the node's keyclient
then admits it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.connectAdmin(&f)
			if err != nil {
				return err
			}
			defer s.admin.Close()
			if _, ok := s.cfg.FindNode(args[0]); !ok {
				return fmt.Errorf("no node named %q in setup.yaml", args[0])
			}
			ca, err := s.auths.Get(keyapi.ClusterCA)
			if err != nil {
				return err
			}
			node := layout.Node{Root: root}
			if err := access.InstallTrust(node, s.cfg, ca.Cert); err != nil {
				return err
			}
			if err := s.admin.AdmitInto(cmd.Context(), node, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "installed bootstrap files for %s below %s\n", args[0], root)
			return nil
		},
	}
	c := group("setup", "Install Homeworld's files onto a node's filesystem", keyserverCmd, nodeCmd)
	c.PersistentFlags().StringVar(&root, "root", "", "the node's root folder (/ on the node itself)")
	c.MarkPersistentFlagRequired("root")
	f.register(nodeCmd)
	return c
}
