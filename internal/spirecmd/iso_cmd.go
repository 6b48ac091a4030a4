package spirecmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/branchkey"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/installer"
	"homeworld.dev/homeworld/internal/isoimage"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/workspace"
)

func (a *app) isoCommand() *cobra.Command {
	var out string
	var all, serial bool
	gen := &cobra.Command{
		Use:   "gen NODE... | --all",
		Short: "Write a preseeded Debian installer ISO for each node",
		Long: `Write DIR/NODE.iso for each named node (or every node with --all): Debian 12's
netboot installer (package debian-installer-12-netboot-amd64), bootable from
BIOS and UEFI, that installs the node without questions but one.

The installer's preseed comes from setup.yaml: the node's static address,
netmask and gateway from cidr-nodes, the vlan, dns-upstreams, the Debian
mirror (cluster.mirror, required), one ext4 partition on the machine's one
disk besides the installer's medium, and no password at all: root is locked
and admins log in with certificates of the ssh-user authority, so there is
no passphrase to keep (the original's 'iso passphrases' has nothing to show).

Once Debian is installed, the late command puts the keyserver's name and CA,
the ssh-user CA and the bootstrap hosts lines on the node, installs the
node's package (homeworld-KIND) from the apt branch the workspace knows
('spire infra install-packages --url' records it), enables the node's units
and, except on the supervisor ('spire seq supervisor' admits it), asks on the
console for the admission token from 'spire infra admit NODE', refusing a
mistyped one by its checksum. At the first boot the keyclient redeems it.
Answer "manual" to admit the node later with 'spire setup node NODE'.

The ISO holds no secret of the cluster: no private key, no admission token.
Building twice gives the same bytes. Each ISO's size and build time are
printed.`,
		Example: `  spire iso gen worker1 --out isos
  spire iso gen --all --out isos --serial`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return errors.New("name the nodes, or say --all")
			}
			ws, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			nodes, err := nodesOf(cfg, args, config.Kinds...)
			if err != nil {
				return err
			}
			source, err := os.ReadFile(ws.SetupPath())
			if err != nil {
				return err
			}
			trust, err := a.installerTrust(ws)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			for _, n := range nodes {
				// The preseed first: its refusals name setup.yaml's line.
				if _, err := installer.Preseed(cfg, n, installer.Options{File: ws.SetupPath(), Source: source}); err != nil {
					return err
				}
				files, err := installer.Files(cfg, n, trust)
				if err != nil {
					return err
				}
				var staged []isoimage.File
				for _, f := range files {
					staged = append(staged, isoimage.File{Path: f.Path, Data: f.Data, Mode: f.Mode})
				}
				path := filepath.Join(out, n.Hostname+".iso")
				start := time.Now()
				if err := isoimage.Build(cmd.Context(), isoimage.Options{Out: path, Files: staged, Serial: serial}); err != nil {
					return fmt.Errorf("%s: %w", n.Hostname, err)
				}
				st, err := os.Stat(path)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.Stdout, "%s: %s, %.1f MiB, built in %s\n", n.Hostname, path, float64(st.Size())/(1<<20), time.Since(start).Round(10*time.Millisecond))
			}
			return nil
		},
	}
	gen.Flags().StringVar(&out, "out", ".", "folder the ISOs are written to")
	gen.Flags().BoolVar(&all, "all", false, "one ISO for every node of setup.yaml")
	gen.Flags().BoolVar(&serial, "serial", false, "bootloader and installer on the serial console ttyS0 (115200 baud)")
	return group("iso", "Make installer ISOs that set up nodes from setup.yaml", gen)
}

// installerTrust is the public material an installer carries: the cluster
// CA, the ssh-user CA and, when the workspace knows it, the apt branch.
func (a *app) installerTrust(ws *workspace.Workspace) (installer.Trust, error) {
	set, err := authority.NewStore(ws.Dir).LoadPublic()
	if err != nil {
		return installer.Trust{}, err
	}
	ca, err := set.Get(keyapi.ClusterCA)
	if err != nil {
		return installer.Trust{}, err
	}
	user, err := set.Get(keyapi.SSHUser)
	if err != nil {
		return installer.Trust{}, err
	}
	trust := installer.Trust{ClusterCA: ca.Cert, SSHUserCA: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(user.SSHKey)))}
	url, err := os.ReadFile(aptURLFile(ws))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(a.Stderr, "note: the workspace knows no apt branch URL ('spire infra install-packages --url URL' records it); the ISOs carry none\n")
		return trust, nil
	case err != nil:
		return trust, err
	}
	key, err := branchkey.LoadPublic(ws.Dir)
	if err != nil {
		return trust, err
	}
	trust.AptURL, trust.AptKeyring = strings.TrimSpace(string(url)), key.Keyring()
	return trust, nil
}
