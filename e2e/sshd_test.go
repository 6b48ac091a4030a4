//go:build e2e

package e2e

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/sshconfig"
)

// TestSSHWithCertificates runs Debian's sshd with Homeworld's configuration
// on a node's keyclient-installed files and logs in with spire's admin
// certificate, checking that only valid certificates from the right
// authority get in, and that the host is verified through @cert-authority.
func TestSSHWithCertificates(t *testing.T) {
	c := startCluster(t)
	node := c.admitNode(t, "worker1", "127.0.0.31")
	addr := startSSHD(t, node, "127.0.0.31")
	host, port, _ := net.SplitHostPort(addr)

	c.spire(t, "access", "ssh", "--no-agent", "--keyserver", c.addr)
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	c.spire(t, "access", "update-known-hosts", "--known-hosts", knownHosts)
	key := filepath.Join(c.dir, "ssh-key")

	sshArgs := func(certFile, kh string) []string {
		return []string{
			"-i", key, "-o", "CertificateFile=" + certFile, "-o", "IdentitiesOnly=yes",
			"-o", "UserKnownHostsFile=" + kh, "-o", "GlobalKnownHostsFile=/dev/null",
			"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
			"-o", "HostKeyAlias=worker1.test.homeworld.example",
			"-p", port, "root@" + host, "echo", "logged-in-as-$(id -un)",
		}
	}
	out, err := runWithTimeout(t, 30*time.Second, "ssh", sshArgs(key+"-cert.pub", knownHosts)...)
	if err != nil || !strings.Contains(out, "logged-in-as-root") {
		t.Fatalf("ssh with a keysystem certificate: %v\n%s", err, out)
	}

	// Without the @cert-authority line the host cannot be verified.
	empty := filepath.Join(t.TempDir(), "empty_known_hosts")
	os.WriteFile(empty, nil, 0o644)
	out, err = runWithTimeout(t, 30*time.Second, "ssh", sshArgs(key+"-cert.pub", empty)...)
	if err == nil || !strings.Contains(out, "Host key verification failed") {
		t.Errorf("ssh with empty known_hosts: %v\n%s", err, out)
	}

	// Certificates the server must reject: expired, and from another CA.
	auths, err := authority.LoadUnsealed(c.supervisor.KeyserverAuthorities())
	if err != nil {
		t.Fatal(err)
	}
	userCA, err := auths.Get(keyapi.SSHUser)
	if err != nil {
		t.Fatal(err)
	}
	caSigner, _ := ssh.NewSignerFromSigner(userCA.Signer)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	otherCA, _ := ssh.NewSignerFromSigner(otherKey)
	pubData, _ := os.ReadFile(key + ".pub")
	pub, _, _, _, _ := ssh.ParseAuthorizedKey(pubData)
	grant := pki.SSHGrant{KeyID: "test", Principals: []string{"root"}, Lifetime: time.Hour}
	for name, issue := range map[string]func() (*ssh.Certificate, error){
		"expired": func() (*ssh.Certificate, error) {
			return pki.IssueSSH(caSigner, pub, grant, time.Now().Add(-3*time.Hour))
		},
		"wrong CA": func() (*ssh.Certificate, error) { return pki.IssueSSH(otherCA, pub, grant, time.Now()) },
	} {
		cert, err := issue()
		if err != nil {
			t.Fatal(err)
		}
		certFile := filepath.Join(t.TempDir(), "bad-cert.pub")
		os.WriteFile(certFile, ssh.MarshalAuthorizedKey(cert), 0o644)
		out, err := runWithTimeout(t, 30*time.Second, "ssh", sshArgs(certFile, knownHosts)...)
		if err == nil || !strings.Contains(out, "Permission denied") {
			t.Errorf("ssh with %s certificate: %v\n%s", name, err, out)
		}
	}
}

// startSSHD serves SSH on ip with Homeworld's settings pointed at the
// node's files, and returns the address. The test holds the listening
// socket (port 0, so nothing can take the port between choosing and
// binding it) and runs sshd in inetd mode (-i) for each connection, as
// socket-activated ssh does; the configuration is the same.
func startSSHD(t *testing.T, node layout.Node, ip string) string {
	t.Helper()
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // sshd's privilege separation directory
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := "AuthorizedKeysFile none\n" + sshconfig.SSHDConfig(sshconfig.SSHDPaths{HostKey: node.SSHHostKey(), UserCA: node.SSHUserCA()})
	confPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runWithTimeout(t, 10*time.Second, "/usr/sbin/sshd", "-t", "-f", confPath); err != nil {
		t.Fatalf("sshd rejects Homeworld's configuration: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &output{}
	var wg sync.WaitGroup
	wg.Add(1) // the accept loop; it adds each connection while it runs
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // closed at cleanup
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				// sshd -i talks SSH on its standard input and output: the
				// connection's own socket, so it sees the client's address.
				f, err := conn.(*net.TCPConn).File()
				if err != nil {
					fmt.Fprintf(logs, "connection from %s: %v\n", conn.RemoteAddr(), err)
					return
				}
				defer f.Close()
				cmd := exec.CommandContext(ctx, "/usr/sbin/sshd", "-i", "-e", "-f", confPath)
				cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, logs
				if err := cmd.Run(); err != nil {
					fmt.Fprintf(logs, "sshd -i for %s: %v\n", conn.RemoteAddr(), err)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		cancel() // ends sessions a failed test left open
		wg.Wait()
		if t.Failed() {
			t.Logf("sshd output:\n%s", logs.String())
		}
	})
	return ln.Addr().String()
}
