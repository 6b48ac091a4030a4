package spirecmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/aptbranch"
	"homeworld.dev/homeworld/internal/branchkey"
	"homeworld.dev/homeworld/internal/debpkg"
)

func (a *app) branchCommand() *cobra.Command {
	return group("branch", "Build and publish the signed apt branches nodes install Homeworld from",
		a.branchBuildCommand(),
		a.branchKeyringCommand(),
		a.branchAptSetupCommand(),
	)
}

func (a *app) branchBuildCommand() *cobra.Command {
	var pkgs, out, name, suite, revision, url string
	c := &cobra.Command{
		Use:   "build --packages DIR --out DIR",
		Short: "Make a signed apt repository from a folder of .deb files and publish it",
		Long: `Make an apt repository ("branch") from every .deb in --packages, signed with
the workspace's branch-signing key, and publish it at --out:

  OUT/dists/SUITE/Release                         what the branch holds, with the
                                                  SHA256 and size of each index
  OUT/dists/SUITE/InRelease                       Release, cleartext-signed
  OUT/dists/SUITE/Release.gpg                     Release's detached signature
  OUT/dists/SUITE/main/binary-amd64/Packages(.gz) one entry per package
  OUT/pool/main/h/hello/hello_1.0_amd64.deb       the packages

Serve --out over HTTP (any static web server) and point nodes at it with the
homeworld-apt-setup package (see ` + "`spire branch apt-setup`" + `): apt then
installs only what this key signed.

--out is a link to a sibling folder named after the branch's contents; a new
build is written beside it and the link swapped in one step, so a web server
shows the old branch or the new one, never a half-written one.

Nothing is written when a .deb is missing or unreadable, two .debs are the
same package, a package's version is lower than the one published at --out
(dpkg's ordering) or equal to it with other contents, or the disaster key
does not open the signing key.

With --url, the branch also carries homeworld-apt-setup for itself: its
keyring under /usr/share/keyrings and a sources.list.d entry for URL with
signed-by (version 1.<Release date in seconds>). Install it on a machine with
dpkg -i, then apt-get installs the rest from the branch.

With --revision, each package gets an in-toto statement (SLSA provenance:
its file and SHA-256, the source revision and version) under provenance/,
signed by the branch key (FILE.intoto.json.asc; gpgv with the branch's
keyring verifies it).

The Release Date is now, or SOURCE_DATE_EPOCH when set: the same packages and
the same date give the same branch, byte for byte, so building the same
inputs again changes nothing.

The signing key needs the disaster key (HOMEWORLD_DISASTER). A workspace made
before branch-signing existed gets it with: ` + "`" + branchkey.AddCommand + "`" + `.

Example:
  spire branch build --packages ./debs --out /srv/apt/stable --name stable`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := a.workspace()
			if err != nil {
				return err
			}
			if _, err := branchkey.LoadPublic(ws.Dir); err != nil {
				return err
			}
			date, err := a.sourceDate()
			if err != nil {
				return err
			}
			dkey, err := a.disasterKey()
			if err != nil {
				return err
			}
			key, err := branchkey.Load(ws.Dir, dkey)
			if err != nil {
				return fmt.Errorf("the signing key cannot be unsealed; nothing was written: %w", err)
			}
			if url != "" {
				if pkgs, err = withAptSetup(pkgs, name, url, suite, key, date); err != nil {
					return fmt.Errorf("homeworld-apt-setup; nothing was published: %w", err)
				}
				defer os.RemoveAll(pkgs)
			}
			r, err := aptbranch.Build(aptbranch.Options{
				Packages: pkgs, Out: out, Name: name, Suite: suite, Date: date, Signer: key, Revision: revision,
			})
			if err != nil {
				return fmt.Errorf("nothing was published:\n%w", err)
			}
			for _, p := range r.Packages {
				fmt.Fprintf(a.Stdout, "  %s %s %s\n", p.Name, p.Version, p.Arch)
			}
			state := "published"
			if !r.Changed {
				state = "unchanged (already published)"
			}
			count := fmt.Sprintf("%d packages", len(r.Packages))
			if len(r.Packages) == 1 {
				count = "1 package"
			}
			fmt.Fprintf(a.Stdout, "branch %s, suite %s, %s, signed by %s: %s at %s\n",
				name, r.Suite, count, key.Fingerprint(), state, out)
			return nil
		},
	}
	c.Flags().StringVar(&pkgs, "packages", "", "folder of .deb files to publish (required)")
	c.Flags().StringVar(&out, "out", "", "where the branch is published: a link this command swaps (required)")
	c.Flags().StringVar(&name, "name", "stable", "the branch's name (its Label, and homeworld-NAME.list on nodes)")
	c.Flags().StringVar(&suite, "suite", "", "the suite apt asks for (default: the branch's name)")
	c.Flags().StringVar(&url, "url", "", "web address the branch is served at: adds homeworld-apt-setup for it (keyring and sources entry)")
	c.Flags().StringVar(&revision, "revision", "", "source revision (git commit) the packages were built from: each gets a signed in-toto provenance statement under provenance/")
	c.MarkFlagRequired("packages")
	c.MarkFlagRequired("out")
	return c
}

// sourceDate is SOURCE_DATE_EPOCH when set (reproducible builds' variable),
// else now.
func (a *app) sourceDate() (time.Time, error) {
	v := a.getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Now().UTC(), nil
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", v)
	}
	return time.Unix(secs, 0).UTC(), nil
}

func (a *app) branchKeyringCommand() *cobra.Command {
	var out string
	var armored bool
	c := &cobra.Command{
		Use:   "keyring --out FILE",
		Short: "Write the branch-signing public key as a keyring for apt's signed-by",
		Long: `Write the public half of the workspace's branch-signing key as an OpenPGP
keyring: binary by default, as apt wants it in /usr/share/keyrings/*.gpg, or
armored with --armor (an .asc file apt also reads; printed when --out is not
given). No disaster key is needed.

Check a branch by hand with it:
  spire branch keyring --out /tmp/homeworld.gpg
  gpgv --keyring /tmp/homeworld.gpg /srv/apt/stable/dists/stable/InRelease`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" && !armored {
				return errors.New("a binary keyring needs --out FILE (or use --armor to print it)")
			}
			ws, err := a.workspace()
			if err != nil {
				return err
			}
			key, err := branchkey.LoadPublic(ws.Dir)
			if err != nil {
				return err
			}
			data := key.Keyring()
			if armored {
				data = key.Armored()
			}
			if out == "" {
				_, err := a.Stdout.Write(data)
				return err
			}
			if err := renameio.WriteFile(out, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "wrote %s (%s)\n", out, key.Fingerprint())
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "file to write")
	c.Flags().BoolVar(&armored, "armor", false, "ASCII-armored instead of binary")
	return c
}

func (a *app) branchAptSetupCommand() *cobra.Command {
	var root, url, name, suite string
	c := &cobra.Command{
		Use:   "apt-setup --url URL --root DIR",
		Short: "Write the files of homeworld-apt-setup, which points a machine at a branch",
		Long: `Write, below --root, the files the homeworld-apt-setup package installs:

  usr/share/keyrings/homeworld-NAME.gpg     the branch-signing public key
  etc/apt/sources.list.d/homeworld-NAME.list
      deb [signed-by=/usr/share/keyrings/homeworld-NAME.gpg] URL SUITE main

so apt trusts that key, and only that key, for the branch served at --url
(the web address of what ` + "`spire branch build`" + ` published as --out). Use --root /
to set up this machine directly. No disaster key is needed.

Example:
  spire branch apt-setup --url http://supervisor.example/apt/stable --root ./pkgroot`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := a.workspace()
			if err != nil {
				return err
			}
			key, err := branchkey.LoadPublic(ws.Dir)
			if err != nil {
				return err
			}
			files, err := aptbranch.SetupFiles(name, url, suite, key.Keyring())
			if err != nil {
				return err
			}
			for _, f := range files {
				path := filepath.Join(root, filepath.FromSlash(f.Path))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					return err
				}
				if err := renameio.WriteFile(path, f.Data, f.Mode); err != nil {
					return err
				}
				fmt.Fprintf(a.Stdout, "wrote %s\n", path)
			}
			return nil
		},
	}
	c.Flags().StringVar(&root, "root", "", "folder the files are written below, as if it were / (required)")
	c.Flags().StringVar(&url, "url", "", "web address the branch is served at (required)")
	c.Flags().StringVar(&name, "name", "stable", "the branch's name")
	c.Flags().StringVar(&suite, "suite", "", "the branch's suite (default: its name)")
	c.MarkFlagRequired("root")
	c.MarkFlagRequired("url")
	return c
}

// withAptSetup returns a temporary folder holding the .debs of pkgs and
// homeworld-apt-setup for the branch served at url.
func withAptSetup(pkgs, branch, url, suite string, key *branchkey.Key, date time.Time) (string, error) {
	files, err := aptbranch.SetupFiles(branch, url, suite, key.Keyring())
	if err != nil {
		return "", err
	}
	debs, err := filepath.Glob(filepath.Join(pkgs, "*.deb"))
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "homeworld-branch-")
	if err != nil {
		return "", err
	}
	for _, d := range debs {
		abs, err := filepath.Abs(d)
		if err == nil {
			err = os.Symlink(abs, filepath.Join(dir, filepath.Base(d)))
		}
		if err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	var pf []debpkg.File
	for _, f := range files {
		pf = append(pf, debpkg.File{Path: f.Path, Data: f.Data, Mode: f.Mode})
	}
	opts := debpkg.Options{OutDir: dir, Version: fmt.Sprintf("1.%d", date.Unix()), Epoch: date}
	if _, err := debpkg.BuildOne(opts, debpkg.AptSetup(branch, pf)); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}
