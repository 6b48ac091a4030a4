package sshconfig

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestUpdateKnownHostsReplacesOnlyItsLine(t *testing.T) {
	pubA, _, _ := ed25519.GenerateKey(nil)
	pubB, _, _ := ed25519.GenerateKey(nil)
	a, _ := ssh.NewPublicKey(pubA)
	b, _ := ssh.NewPublicKey(pubB)
	content := "host1 ssh-ed25519 AAAA\n" + KnownHostsLine("other.example", a) + "\n"
	content = UpdateKnownHosts(content, "c.example", a)
	content = UpdateKnownHosts(content, "c.example", b) // the CA changed
	lines := strings.Split(strings.TrimSpace(content), "\n")
	if len(lines) != 3 || lines[0] != "host1 ssh-ed25519 AAAA" || !strings.HasPrefix(lines[1], "@cert-authority *.other.example") {
		t.Fatalf("known_hosts:\n%s", content)
	}
	if lines[2] != KnownHostsLine("c.example", b) {
		t.Errorf("managed line = %q", lines[2])
	}
}

func TestSSHDConfig(t *testing.T) {
	c := SSHDConfig(SSHDPaths{HostKey: "/etc/ssh/k", UserCA: "/etc/ssh/ca.pub"})
	for _, want := range []string{"HostCertificate /etc/ssh/k-cert.pub", "TrustedUserCAKeys /etc/ssh/ca.pub", "PasswordAuthentication no"} {
		if !strings.Contains(c, want+"\n") {
			t.Errorf("config lacks %q", want)
		}
	}
}
