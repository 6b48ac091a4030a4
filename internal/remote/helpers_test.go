package remote

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/services"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"homeworld.dev/homeworld/internal/remote/remotetest"
)

// testTimeout bounds every connection in these tests; loopback answers in
// milliseconds, so hitting it means something hangs.
const testTimeout = 10 * time.Second

// newSigner is a fresh Ed25519 key.
func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// server is a test sshd, the admin key it lets in, and the name tests
// give it.
type server struct {
	sshd  *remotetest.SSHD
	admin ssh.Signer
	host  Host
}

func startServer(t *testing.T, name string, o remotetest.Options) server {
	t.Helper()
	admin := newSigner(t)
	o.AuthorizedKeys = append(o.AuthorizedKeys, admin.PublicKey())
	sshd := remotetest.Start(t, o)
	return server{sshd: sshd, admin: admin, host: Host{Name: name, Addr: sshd.Addr}}
}

// knownHostsLine lists key for h as ssh would record it.
func knownHostsLine(h Host, key ssh.PublicKey) string {
	return knownhosts.Line([]string{knownhosts.Normalize(h.keyName())}, key)
}

// writeKnownHosts makes a known_hosts file of lines.
func writeKnownHosts(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// trusting is a config that knows s's host key.
func (s server) trusting(t *testing.T) Config {
	return Config{Signers: []ssh.Signer{s.admin}, Timeout: testTimeout,
		HostKeys: HostKeys{KnownHosts: writeKnownHosts(t, knownHostsLine(s.host, s.sshd.HostKey))}}
}

// dial connects to s with cfg, closing the client when t ends.
func (s server) dial(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := Dial(context.Background(), s.host, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readFile is path's content, "" if missing.
func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(data)
}

// wantContains fails unless msg holds every part.
func wantContains(t *testing.T, what, msg string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("%s %q does not contain %q", what, msg, p)
		}
	}
}

// sshPort is the service map's SSH port, which Host defaults to.
var sshPort = services.SSH.PortString()
