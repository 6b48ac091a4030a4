// Package sshconfig renders the OpenSSH configuration Homeworld relies on:
// the sshd settings that present a node's host certificate and trust admin
// certificates from the ssh-user authority, and the known_hosts line that
// lets admins verify every node through the ssh-host authority. The
// keyclient and spire import it.
package sshconfig

import (
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// SSHDPaths are production paths of the node's SSH material.
type SSHDPaths struct {
	HostKey string // the certified host key; the certificate is HostKey + "-cert.pub"
	UserCA  string // the ssh-user authority's public key
}

// SSHDConfig is the drop-in for sshd_config.d: certificate-only root logins,
// no passwords.
func SSHDConfig(p SSHDPaths) string {
	return fmt.Sprintf(`# Written by the Homeworld keyclient.
HostKey %[1]s
HostCertificate %[1]s-cert.pub
TrustedUserCAKeys %[2]s
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
`, p.HostKey, p.UserCA)
}

// KnownHostsMarker ends the known_hosts line spire manages, so it can be
// replaced without touching the user's other entries.
func KnownHostsMarker(domain string) string { return "homeworld:" + domain }

// KnownHostsLine trusts hostCA for every host under domain.
func KnownHostsLine(domain string, hostCA ssh.PublicKey) string {
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostCA)))
	return fmt.Sprintf("@cert-authority *.%s %s %s", domain, key, KnownHostsMarker(domain))
}

// UpdateKnownHosts replaces the managed line for domain in a known_hosts
// file's content, keeping every other line.
func UpdateKnownHosts(content, domain string, hostCA ssh.PublicKey) string {
	marker := " " + KnownHostsMarker(domain)
	var kept []string
	for _, line := range strings.Split(content, "\n") {
		if line == "" || (strings.HasPrefix(line, "@cert-authority ") && strings.HasSuffix(line, marker)) {
			continue
		}
		kept = append(kept, line)
	}
	kept = append(kept, KnownHostsLine(domain, hostCA))
	return strings.Join(kept, "\n") + "\n"
}
