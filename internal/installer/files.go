package installer

import (
	"crypto/x509"
	"embed"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/aptbranch"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/debpkg"
	"homeworld.dev/homeworld/internal/hostsetup"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/remote"
	"homeworld.dev/homeworld/internal/sshconfig"
)

// File is one file of the installer's initrd, Path relative to its root.
type File struct {
	Path string
	Data []byte
	Mode os.FileMode
}

// Trust is the public material a node needs before it has any key: whom
// to trust as keyserver, which SSH certificates to accept, and where its
// packages come from. Never put a private key or token here: the ISO is
// not secret.
type Trust struct {
	ClusterCA  *x509.Certificate // the keyserver's TLS chains to it
	SSHUserCA  string            // authorized_keys line of the ssh-user CA
	AptURL     string            // the apt branch's URL; empty with AptKeyring for none
	AptKeyring []byte            // binary OpenPGP keyring that signs the branch
	AptBranch  string            // the branch's name; "stable" if empty
}

// Dir is where the installer's Homeworld files are, in the installer's
// root; the late command copies them to the installed system's
// TargetDir and runs TargetDir/install.sh there.
const (
	Dir       = "homeworld"
	TargetDir = "/var/lib/homeworld-installer"
)

// The scripts the installer runs: early-command.sh and prepartition.sh in
// the installer, late-command.sh from it into the installed system, where
// install.sh and ask-token.sh run. templates holds the token question.
//
//go:embed scripts/*.sh scripts/templates
var scripts embed.FS

// node is the installed system's layout.
var node = layout.Node{Root: "/"}

// Files returns every file the installer's initrd carries for node n,
// sorted by path: /preseed.cfg, where the installer looks for it, and the
// rest below /homeworld: the scripts, node.env (what the scripts need to
// know of this node), hosts (lines for /etc/hosts), and root/, the public
// files install.sh puts at the same paths in the installed system.
// Refusals carry no line; call Preseed with Options first for located
// ones.
func Files(c *config.Config, n config.Node, trust Trust) ([]File, error) {
	preseed, err := Preseed(c, n, Options{})
	if err != nil {
		return nil, err
	}
	if err := trust.check(); err != nil {
		return nil, err
	}
	hosts, err := Hosts(c)
	if err != nil {
		return nil, err
	}
	installed := hostsetup.TrustFiles(c, trust.ClusterCA)
	installed = append(installed,
		hostsetup.File{Path: node.SSHUserCA(), Data: []byte(strings.TrimSpace(trust.SSHUserCA) + "\n"), Mode: 0o644},
		hostsetup.File{Path: node.SSHDConfig(), Data: []byte(sshconfig.SSHDConfig(sshconfig.SSHDPaths{HostKey: node.SSHHostKey(), UserCA: node.SSHUserCA()})), Mode: 0o644})
	if trust.AptURL != "" {
		apt, err := aptbranch.SetupFiles(trust.branch(), trust.AptURL, "", trust.AptKeyring)
		if err != nil {
			return nil, fmt.Errorf("installer: apt branch: %w", err)
		}
		for _, f := range apt {
			installed = append(installed, hostsetup.File{Path: f.Path, Data: f.Data, Mode: f.Mode})
		}
	}
	files := []File{
		{Path: "preseed.cfg", Data: preseed, Mode: 0o644},
		{Path: Dir + "/node.env", Data: nodeEnv(c, n, trust), Mode: 0o644},
		{Path: Dir + "/hosts", Data: hosts, Mode: 0o644},
	}
	for _, f := range installed {
		files = append(files, File{Path: path.Join(Dir, "root", f.Path), Data: f.Data, Mode: f.Mode})
	}
	entries, err := scripts.ReadDir("scripts")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		data, err := scripts.ReadFile("scripts/" + e.Name())
		if err != nil {
			return nil, err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(e.Name(), ".sh") {
			mode = 0o755
		}
		files = append(files, File{Path: Dir + "/" + e.Name(), Data: data, Mode: mode})
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// nodeEnv is what the scripts know of node n, as shell assignments. Only
// nodes that are not the supervisor ask for a token and have their units
// enabled at install time: the supervisor's keyserver needs the files
// `spire seq supervisor` brings, and that sequence admits it too.
func nodeEnv(c *config.Config, n config.Node, trust Trust) []byte {
	units, displaced := hostsetup.Units(c, n)
	vars := [][2]string{
		{"NODE_HOSTNAME", n.Hostname},
		{"NODE_FQDN", c.FQDN(n)},
		{"NODE_KIND", string(n.Kind)},
		{"APT_URL", trust.AptURL},
		{"PACKAGES", ""},
		{"UNITS", ""},
		{"DISPLACED", ""},
		{"ASK_TOKEN", "no"},
		{"KEYCLIENT", path.Join(debpkg.BinDir, "keyclient")},
		{"TOKEN_FILE", node.BootstrapToken()},
	}
	if trust.AptURL != "" {
		vars[4][1] = hostsetup.KindPackage(n.Kind)
		if n.Kind != config.KindSupervisor {
			vars[5][1] = strings.Join(units, " ")
			vars[6][1] = strings.Join(displaced, " ")
			vars[7][1] = "yes"
		}
	}
	var b strings.Builder
	b.WriteString("# This node, for the installer's Homeworld scripts; written by spire iso gen.\n")
	for _, v := range vars {
		fmt.Fprintf(&b, "%s=%s\n", v[0], remote.Quote(v[1]))
	}
	return []byte(b.String())
}

func (t Trust) branch() string {
	if t.AptBranch == "" {
		return "stable"
	}
	return t.AptBranch
}

// check refuses trust material that is missing or malformed.
func (t Trust) check() error {
	if t.ClusterCA == nil || !t.ClusterCA.IsCA {
		return errors.New("installer: the cluster CA is missing or not a CA certificate")
	}
	line := strings.TrimSpace(t.SSHUserCA)
	if strings.Contains(line, "\n") {
		return fmt.Errorf("installer: ssh-user CA: must be one authorized_keys line, not %d", strings.Count(line, "\n")+1)
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err != nil {
		return fmt.Errorf("installer: ssh-user CA %q: %w", line, err)
	}
	if (t.AptURL == "") != (len(t.AptKeyring) == 0) {
		return fmt.Errorf("installer: the apt branch needs both its URL and its keyring, or neither (URL %q, keyring of %d bytes)", t.AptURL, len(t.AptKeyring))
	}
	// aptbranch.SetupFiles checks the URL; an exported secret keyring
	// would pass its check.
	if t.AptURL != "" {
		if err := publicKeyring(t.AptKeyring); err != nil {
			return fmt.Errorf("installer: apt keyring: %w", err)
		}
	}
	return nil
}
