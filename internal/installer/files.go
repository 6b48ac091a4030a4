package installer

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/config"
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
	ClusterCA  []byte // PEM certificates the keyserver's TLS chains to
	SSHUserCA  string // authorized_keys line of the ssh-user CA
	AptURL     string // the apt branch's URL; empty with AptKeyring for none
	AptKeyring []byte // binary OpenPGP keyring that signs the branch
}

// Files returns every file the installer's initrd carries for node n,
// sorted by path: /preseed.cfg, where d-i looks for it, and the rest below
// /homeworld/ for the late command. Refusals carry no line; call Preseed
// with Options first for located ones.
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
	files := []File{
		{Path: "preseed.cfg", Data: preseed},
		{Path: "homeworld/keyserver.domain", Data: []byte(c.FQDN(c.Supervisor()))},
		{Path: "homeworld/keyservertls.pem", Data: trust.ClusterCA},
		{Path: "homeworld/ssh_user_ca.pub", Data: []byte(strings.TrimSpace(trust.SSHUserCA) + "\n")},
		{Path: "homeworld/hosts", Data: hosts},
		{Path: "homeworld/vlan", Data: fmt.Appendf(nil, "%d\n", c.VLAN)},
	}
	if trust.AptURL != "" {
		files = append(files,
			File{Path: "homeworld/apt-url", Data: []byte(trust.AptURL + "\n")},
			File{Path: "homeworld/apt-keyring.gpg", Data: trust.AptKeyring})
	}
	for i := range files {
		files[i].Mode = 0o644
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// check refuses trust material that is missing, malformed or secret.
func (t Trust) check() error {
	if err := certificatesOnly(t.ClusterCA); err != nil {
		return fmt.Errorf("installer: cluster CA: %w", err)
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
	if t.AptURL != "" {
		if msg := lineSafe(t.AptURL); msg != "" {
			return fmt.Errorf("installer: apt URL: %s", msg)
		}
		if u, err := url.Parse(t.AptURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("installer: apt URL %q is not an http(s) URL", t.AptURL)
		}
		if err := publicKeyring(t.AptKeyring); err != nil {
			return fmt.Errorf("installer: apt keyring: %w", err)
		}
	}
	return nil
}

// certificatesOnly accepts PEM text of one or more certificates and
// nothing else, so a key bundled by mistake never reaches the ISO.
func certificatesOnly(data []byte) error {
	rest, count := data, 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("holds a %s block; only certificates may go on the ISO", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d: %w", count+1, err)
		}
		count++
	}
	if count == 0 || len(bytes.TrimSpace(rest)) != 0 {
		return fmt.Errorf("must be PEM certificates only (found %d, then %d other bytes)", count, len(bytes.TrimSpace(rest)))
	}
	return nil
}
