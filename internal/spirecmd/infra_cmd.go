package spirecmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/config"
)

func (a *app) infraCommand() *cobra.Command {
	var f keyserverFlags
	var hf hostFlags
	c := group("infra", "Admit nodes, install packages and keep hosts in order",
		&cobra.Command{
			Use:   "admit NODE",
			Short: "Get a one-time admission token for one node",
			Long: `Ask the keyserver for a one-time admission token for NODE (a hostname from
setup.yaml, short or fully qualified). Give the token to the node's installer
(or write it to /etc/homeworld/keyclient/bootstrap.token); the node's keyclient
redeems it once, from the node's own address, for the node's identity.
Tokens expire after an hour and carry a checksum that catches typing mistakes.`,
			Example: `  spire infra admit worker1`,
			Args:    cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				s, err := a.connectAdmin(&f)
				if err != nil {
					return err
				}
				defer s.admin.Close()
				tok, err := s.admin.Admit(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(a.Stdout, "Token granted for %s: %s\n", args[0], tok)
				return nil
			},
		},
		&cobra.Command{
			Use:   "admit-all",
			Short: "Get admission tokens for every node except the supervisor",
			Long: `Ask the keyserver for a one-time admission token for every master and worker
in setup.yaml, and print them as a table. The supervisor is admitted on its own
with 'spire infra admit' once its keyserver runs.`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				s, err := a.connectAdmin(&f)
				if err != nil {
					return err
				}
				defer s.admin.Close()
				tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "HOST\tKIND\tIP\tTOKEN")
				for _, n := range s.cfg.Nodes {
					if n.Kind == config.KindSupervisor {
						continue
					}
					tok, err := s.admin.Admit(cmd.Context(), n.Hostname)
					if err != nil {
						tw.Flush()
						return fmt.Errorf("admitting %s: %w", n.Hostname, err)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Hostname, n.Kind, n.IP, tok)
				}
				return tw.Flush()
			},
		},
		a.denyCommand(&f, true),
		a.denyCommand(&f, false),
		a.installPackagesCommand(&hf),
	)
	c.AddCommand(a.syncCommands(&hf)...)
	f.register(c)
	hf.register(c)
	return c
}

// denyCommand is `infra deny` or `infra allow`.
func (a *app) denyCommand(f *keyserverFlags, deny bool) *cobra.Command {
	c := &cobra.Command{
		Use:   "deny NODE|PRINCIPAL|serial:HEX",
		Short: "Cut off a node, principal or single certificate at the keyserver, at once",
		Long: `Put a node (hostname from setup.yaml), any other principal, or one certificate
(serial:HEX, the serial as the audit log prints it) on the keyserver's deny
list. From the next request on, the keyserver refuses that identity: it can
renew nothing, get nothing, and cannot be admitted again until allowed.

What a stolen node identity already holds stays valid until it expires (role
certificates last 30 days): to cut it off everywhere, deny the node here, then
remove it from setup.yaml and restart the keyserver, and for certificates
that must die sooner, regenerate the authority that issued them. The deny
list survives keyserver restarts; 'spire infra allow' lifts an entry.`,
		Example: `  spire infra deny worker3
  spire infra deny serial:5f3a09c2d1e4b7a8`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.connectAdmin(f)
			if err != nil {
				return err
			}
			defer s.admin.Close()
			call, verb := s.admin.Deny, "denied"
			if !deny {
				call, verb = s.admin.Allow, "allowed"
			}
			list, err := call(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "%s %s. Deny list now:\n", verb, args[0])
			if list == "" {
				list = "(empty)"
			}
			fmt.Fprintln(a.Stdout, list)
			return nil
		},
	}
	if !deny {
		c.Use = "allow NODE|PRINCIPAL|serial:HEX"
		c.Short = "Lift a deny: the keyserver accepts the node, principal or certificate again"
		c.Long = `Remove an entry from the keyserver's deny list (see 'spire infra deny').`
		c.Example = `  spire infra allow worker3`
	}
	return c
}
