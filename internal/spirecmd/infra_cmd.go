package spirecmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/config"
)

func (a *app) infraCommand() *cobra.Command {
	var f keyserverFlags
	c := group("infra", "Admit nodes into the cluster",
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
	)
	f.register(c)
	return c
}
