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
	"homeworld.dev/homeworld/internal/branchkey"
	"homeworld.dev/homeworld/internal/config"
)

func (a *app) authorityCommand() *cobra.Command {
	return group("authority", "Create and inspect the cluster's certificate authorities",
		a.authorityGenCommand(),
		a.authorityAddCommand(),
		a.authorityShowCommand(),
	)
}

func (a *app) authorityGenCommand() *cobra.Command {
	var force bool
	c := &cobra.Command{
		SuggestFor: []string{"generate", "create", "new"},
		Use:        "gen",
		Short:      "Generate the cluster's authorities, sealed with the disaster key",
		Long: `Generate the cluster's authorities into the workspace's authorities/ folder:
keygranting, clusterca, kubernetes, etcd-server, etcd-client (ECDSA P-256 CA
certificates), serviceaccount (ECDSA P-256 token signer), ssh-user, ssh-host
(Ed25519 SSH CAs), and branch-signing (an Ed25519 OpenPGP v4 key that signs
the apt branches; only spire ever holds it, never the keyserver).

Public halves are stored in clear. Private keys are written only sealed with
the disaster key (age, scrypt passphrase), never in clear, not even briefly.
The result appears all at once or not at all: an interrupted or failed run
leaves the workspace as it was.

Existing authorities are never replaced unless --force is given, and even then
only if the disaster key opens them. Replacing authorities invalidates every
credential issued so far, and nodes stop trusting the apt branches until they
get the new branch-signing key.

A workspace made before branch-signing existed gets it, without touching the
others, with: ` + "`" + branchkey.AddCommand + "`" + `.`,
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
			set, branch, err := a.createAuthorities(cmd.Context(), store, cfg, force)
			if err != nil {
				return err
			}
			return a.printAuthorities(set, branch, false)
		},
	}
	c.Flags().BoolVar(&force, "force", false, "replace existing authorities (requires the disaster key that sealed them)")
	return c
}

// createAuthorities generates the cluster's authorities (named after its
// domain), branch-signing included, and seals them into store with the
// disaster key in one step.
func (a *app) createAuthorities(ctx context.Context, store *authority.Store, cfg *config.Config, force bool) (*authority.Set, *branchkey.Key, error) {
	key, err := a.disasterKey()
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(a.Stderr, "generating %d authorities...\n", len(authority.Specs)+1)
	org := clusterOrg(cfg)
	set, err := authority.Generate(org, time.Now())
	if err != nil {
		return nil, nil, err
	}
	branch, err := branchkey.Generate(org, time.Now())
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintln(a.Stderr, "sealing private keys with the disaster key...")
	if err := store.Create(ctx, set, key, force, branchkey.Stage(branch)); err != nil {
		if errors.Is(err, authority.ErrExists) {
			return nil, nil, fmt.Errorf("%w; pass --force to replace them", err)
		}
		return nil, nil, err
	}
	fmt.Fprintf(a.Stdout, "created authorities in %s\n", store.Dir())
	return set, branch, nil
}

// clusterOrg names the cluster in the authorities' subjects and user IDs.
func clusterOrg(cfg *config.Config) string { return "Homeworld " + cfg.Cluster.ExternalDomain }

func (a *app) authorityAddCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "add " + branchkey.DirName,
		Short: "Add an authority that this workspace was made without (branch-signing)",
		Long: `Add to an existing workspace an authority introduced after its authorities
were generated. Today that is branch-signing: the Ed25519 OpenPGP v4 key that
signs the apt branches (spire branch build) and that nodes trust through the
homeworld-apt-setup package.

The other authorities are left exactly as they are. The disaster key must
open them, so the new private key is sealed with the cluster's own disaster
key. An authority that exists is never replaced.

Example:
  spire authority add branch-signing
  spire authority show`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{branchkey.DirName},
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != branchkey.DirName {
				return fmt.Errorf("only %s can be added to existing authorities; the others are made together by `spire authority gen`", branchkey.DirName)
			}
			ws, err := a.workspace()
			if err != nil {
				return err
			}
			cfg, err := a.config(ws)
			if err != nil {
				return fmt.Errorf("authorities are named after the cluster, so setup.yaml must be valid first:\n%w", err)
			}
			key, err := a.disasterKey()
			if err != nil {
				return err
			}
			branch, err := branchkey.Generate(clusterOrg(cfg), time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(a.Stderr, "checking the disaster key against the existing authorities, then sealing...")
			if err := branchkey.Add(cmd.Context(), ws.Dir, branch, key); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "added %s in %s\n", branchkey.DirName, branchkey.Dir(ws.Dir))
			return a.printAuthorities(&authority.Set{}, branch, false)
		},
	}
}

func (a *app) authorityShowCommand() *cobra.Command {
	var asJSON, verify bool
	c := &cobra.Command{
		Use:   "show",
		Short: "List the authorities: type, algorithm, fingerprint, validity",
		Long: `List the workspace's authorities with their type, key algorithm, SHA-256
fingerprint and validity. This reads only public halves and needs no disaster
key; with --verify it also unseals the private keys and checks that each
matches its public half.

branch-signing's fingerprint is its OpenPGP v4 fingerprint, as gpgv prints
it. A workspace made before branch-signing existed lacks it; show says so
and names the command that adds it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := a.workspace()
			if err != nil {
				return err
			}
			store := authority.NewStore(ws.Dir)
			var set *authority.Set
			var branch *branchkey.Key
			var berr error
			if verify {
				key, kerr := a.disasterKey()
				if kerr != nil {
					return kerr
				}
				if set, err = store.Load(key); err == nil {
					branch, berr = branchkey.Load(ws.Dir, key)
				}
			} else if set, err = store.LoadPublic(); err == nil {
				branch, berr = branchkey.LoadPublic(ws.Dir)
			}
			if err != nil {
				return err
			}
			if berr != nil && !errors.Is(berr, branchkey.ErrMissing) {
				return berr
			}
			if err := a.printAuthorities(set, branch, asJSON); err != nil {
				return err
			}
			if berr != nil {
				fmt.Fprintf(a.Stderr, "warning: %v\n", berr)
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

// printAuthorities lists set and, when not nil, branch.
func (a *app) printAuthorities(set *authority.Set, branch *branchkey.Key, asJSON bool) error {
	var sums []authority.Summary
	for _, au := range set.List {
		sums = append(sums, au.Summarize())
	}
	if branch != nil {
		sums = append(sums, branch.Summarize())
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
