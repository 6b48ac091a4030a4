package spirecmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/disaster"
)

func (a *app) disasterKeyCommand() *cobra.Command {
	return group("disaster-key", "Create the disaster key that seals the cluster's secrets",
		&cobra.Command{
			SuggestFor: []string{"generate", "create", "new"},
			Use:        "gen FILE",
			Short:      "Write a new random disaster key to FILE (mode 0600)",
			Long: `Write a new random passphrase to FILE, readable only by you. This key seals
the cluster's authorities: keep it offline (and backed up) and point
HOMEWORLD_DISASTER at it only while running spire. An existing file is never
replaced. You may also write the file yourself: its first line is the
passphrase, at least 16 characters.`,
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := disaster.Generate(args[0]); err != nil {
					return err
				}
				fmt.Fprintf(a.Stdout, "wrote a new disaster key to %s; keep it offline and backed up\n", args[0])
				return nil
			},
		},
	)
}
