package keyclient

import (
	"bufio"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/token"
)

// checkTokenCommand is `keyclient check-token`: the installer's prompt
// asks it whether what the operator typed is a token, so a typo is caught
// at the console instead of at the first boot. The token comes on standard
// input, never as an argument that ps would show.
func checkTokenCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check-token",
		Short: "Check an admission token's shape and typo checksum (token on standard input)",
		Long: `Read one admission token from standard input and check it as the keyserver
would before redeeming it: 22 characters of base64, the last two a checksum
of the first twenty. Print the token (without surrounding spaces) and exit 0,
or print why it is not a token and exit 1. Nothing is sent anywhere: whether
the keyserver still accepts the token is only known when it is redeemed.`,
		Example:      `  printf '%s\n' "$token" | keyclient check-token`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			line, err := bufio.NewReader(io.LimitReader(cmd.InOrStdin(), 4096)).ReadString('\n')
			if err != nil && err != io.EOF {
				return err
			}
			tok, err := token.Check(line)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
}
