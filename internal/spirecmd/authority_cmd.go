package spirecmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
)

func (a *app) authorityCommand() *cobra.Command {
	return group("authority", "Create and inspect the cluster's certificate authorities",
		a.authorityGenCommand(),
		a.authorityShowCommand(),
	)
}

func (a *app) authorityGenCommand() *cobra.Command {
	var force bool
	c := &cobra.Command{
		SuggestFor: []string{"generate", "create", "new"},
		Use:        "gen",
		Short:      "Generate the cluster's eight authorities, sealed with the disaster key",
		Long: `Generate the cluster's authorities into the workspace's authorities/ folder:
keygranting, clusterca, kubernetes, etcd-server, etcd-client (ECDSA P-256 CA
certificates), serviceaccount (ECDSA P-256 token signer), and ssh-user,
ssh-host (Ed25519 SSH CAs).

Public halves are stored in clear. Private keys are written only sealed with
the disaster key (age, scrypt passphrase), never in clear, not even briefly.
The result appears all at once or not at all: an interrupted or failed run
leaves the workspace as it was.

Existing authorities are never replaced unless --force is given, and even then
only if the disaster key opens them. Replacing authorities invalidates every
credential issued so far.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := a.workspace()
			if err != nil {
				return err
			}
			cfg, err := a.config(ws)
			if err != nil {
				return fmt.Errorf("authorities are named after the cluster, so setup.yaml must be valid first:\n%w", err)
			}
			store := authority.NewStore(ws.Dir)
			if store.Exists() && !force {
				return fmt.Errorf("authorities already exist in %s; pass --force to replace them (this invalidates every credential issued so far)", store.Dir())
			}
			set, err := a.createAuthorities(cmd.Context(), store, cfg, force)
			if err != nil {
				return err
			}
			return a.printAuthorities(set, false)
		},
	}
	c.Flags().BoolVar(&force, "force", false, "replace existing authorities (requires the disaster key that sealed them)")
	return c
}

// createAuthorities generates the cluster's authorities (named after its
// domain) and seals them into store with the disaster key.
func (a *app) createAuthorities(ctx context.Context, store *authority.Store, cfg *config.Config, force bool) (*authority.Set, error) {
	key, err := a.disasterKey()
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(a.Stderr, "generating 8 authorities...")
	set, err := authority.Generate("Homeworld "+cfg.Cluster.ExternalDomain, time.Now())
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(a.Stderr, "sealing private keys with the disaster key...")
	if err := store.Create(ctx, set, key, force); err != nil {
		if errors.Is(err, authority.ErrExists) {
			return nil, fmt.Errorf("%w; pass --force to replace them", err)
		}
		return nil, err
	}
	fmt.Fprintf(a.Stdout, "created authorities in %s\n", store.Dir())
	return set, nil
}

func (a *app) authorityShowCommand() *cobra.Command {
	var asJSON, verify bool
	c := &cobra.Command{
		Use:   "show",
		Short: "List the authorities: type, algorithm, fingerprint, validity",
		Long: `List the workspace's authorities with their type, key algorithm, SHA-256
fingerprint and validity. This reads only public halves and needs no disaster
key; with --verify it also unseals the private keys and checks that each
matches its public half.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := a.workspace()
			if err != nil {
				return err
			}
			store := authority.NewStore(ws.Dir)
			var set *authority.Set
			if verify {
				key, kerr := a.disasterKey()
				if kerr != nil {
					return kerr
				}
				set, err = store.Load(key)
			} else {
				set, err = store.LoadPublic()
			}
			if err != nil {
				return err
			}
			if err := a.printAuthorities(set, asJSON); err != nil {
				return err
			}
			if verify {
				fmt.Fprintln(a.Stderr, "verified: every private key unseals and matches its public half")
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().BoolVar(&verify, "verify", false, "also unseal the private keys with the disaster key and check them")
	return c
}

func (a *app) printAuthorities(set *authority.Set, asJSON bool) error {
	var sums []authority.Summary
	for _, au := range set.List {
		sums = append(sums, au.Summarize())
	}
	if asJSON {
		enc := json.NewEncoder(a.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sums)
	}
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tALGORITHM\tVALID FROM\tVALID UNTIL\tFINGERPRINT")
	for _, s := range sums {
		from, until := "-", "no expiry"
		if s.NotBefore != nil {
			from, until = s.NotBefore.Format(time.DateOnly), s.NotAfter.Format(time.DateOnly)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Type, s.Algorithm, from, until, s.Fingerprint)
	}
	return tw.Flush()
}
