package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"homeworld.dev/homeworld/internal/remote/remotetest"
	"homeworld.dev/homeworld/internal/testutil"
)

func TestRefusedConnectionNamesTheHost(t *testing.T) {
	t.Parallel()
	h := Host{Name: "supervisor", Addr: remotetest.ClosedAddr(t)}
	_, err := Dial(context.Background(), h, Config{Signers: []ssh.Signer{newSigner(t)}, Timeout: testTimeout})
	var connErr *ConnError
	if !errors.Is(err, ErrUnreachable) || !errors.As(err, &connErr) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial = %v, want ErrUnreachable from ECONNREFUSED", err)
	}
	want := "supervisor (" + h.Addr + "): refuses SSH connections: connect: connection refused; is sshd running? is the address in setup.yaml right?"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}

// silentListener accepts connections and never says a word, like a host
// whose sshd hangs. accepted counts the connections so far.
func silentListener(t *testing.T) (addr string, accepted func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(conns)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	t.Parallel()
	addr, _ := silentListener(t)
	h := Host{Name: "node1", Addr: addr}
	start := time.Now()
	_, err := Dial(context.Background(), h, Config{Signers: []ssh.Signer{newSigner(t)}, Timeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrHandshake) {
		t.Fatalf("Dial = %v, want ErrHandshake", err)
	}
	if took := time.Since(start); took > testTimeout {
		t.Errorf("Dial took %v with a timeout of 200ms", took)
	}
	wantContains(t, "error", err.Error(), "node1 ("+h.Addr+"): did not complete the SSH handshake within 200ms")
}

func TestDialStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	addr, accepted := silentListener(t)
	h := Host{Name: "node1", Addr: addr}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Dial(ctx, h, Config{Signers: []ssh.Signer{newSigner(t)}, Timeout: time.Hour})
		done <- err
	}()
	// Cancel in the handshake, which takes no context of its own.
	testutil.WaitFor(t, testTimeout, "Dial to connect", func() (bool, error) { return accepted() > 0, nil })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "node1 (") {
			t.Errorf("cancelled Dial = %v, want context.Canceled naming the host", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Dial did not return when cancelled")
	}
}

func TestRefusedLoginSaysWhatWasOffered(t *testing.T) {
	t.Parallel()
	s := startServer(t, "supervisor", remotetest.Options{})
	cfg := s.trusting(t)
	stranger := newSigner(t)
	cfg.Signers = []ssh.Signer{stranger}
	_, err := Dial(context.Background(), s.host, cfg)
	var connErr *ConnError
	if !errors.Is(err, ErrAuthRefused) || !errors.As(err, &connErr) {
		t.Fatalf("Dial = %v, want ErrAuthRefused", err)
	}
	wantContains(t, "error", err.Error(), "supervisor ("+s.sshd.Addr+"): refused to log root in",
		Fingerprint(stranger.PublicKey()), "spire setup supervisor-ssh", "spire access ssh")
}

func TestNoKeysIsAnError(t *testing.T) {
	t.Parallel()
	_, err := Dial(context.Background(), Host{Name: "node1", Addr: "127.0.0.1:1"}, Config{})
	if err == nil || !strings.Contains(err.Error(), "node1") {
		t.Errorf("Dial without keys = %v", err)
	}
}

// userCert certifies key for root logins between the given times.
func userCert(t *testing.T, ca ssh.Signer, key ssh.PublicKey, after, before time.Time) *ssh.Certificate {
	t.Helper()
	cert := &ssh.Certificate{Key: key, CertType: ssh.UserCert, KeyId: "admin-ssh-alice", ValidPrincipals: []string{"root"},
		ValidAfter: uint64(after.Unix()), ValidBefore: uint64(before.Unix())}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	return cert
}

// writeAdminKey writes an Ed25519 key in OpenSSH's format, as spire
// access ssh does, and returns its path and public key.
func writeAdminKey(t *testing.T) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ssh-key")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, _ := ssh.NewPublicKey(pub)
	return path, sshPub
}

// After spire setup supervisor-ssh a host lets in only certificates from
// the user authority: LoadSigners offers the one beside the key.
func TestLoginWithCertificate(t *testing.T) {
	t.Parallel()
	userCA := newSigner(t)
	s := startServer(t, "supervisor", remotetest.Options{UserCA: userCA.PublicKey()})
	cfg := s.trusting(t)
	keyPath, pub := writeAdminKey(t)

	cfg.Signers = loadSigners(t, keyPath)
	if len(cfg.Signers) != 1 {
		t.Fatalf("LoadSigners without a certificate = %d signers, want the key", len(cfg.Signers))
	}
	if _, err := Dial(context.Background(), s.host, cfg); !errors.Is(err, ErrAuthRefused) {
		t.Fatalf("Dial with an uncertified key = %v, want ErrAuthRefused", err)
	}

	now := time.Now()
	writeCert := func(c *ssh.Certificate) {
		if err := os.WriteFile(keyPath+"-cert.pub", ssh.MarshalAuthorizedKey(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeCert(userCert(t, userCA, pub, now.Add(-time.Minute), now.Add(time.Hour)))
	cfg.Signers = loadSigners(t, keyPath)
	if out, err := s.dial(t, cfg).Run(context.Background(), "id -un", nil); err != nil || string(out) != "root\n" {
		t.Fatalf("Run = %q, %v", out, err)
	}

	writeCert(userCert(t, userCA, pub, now.Add(-2*time.Hour), now.Add(-time.Hour)))
	cfg.Signers = loadSigners(t, keyPath)
	_, err := Dial(context.Background(), s.host, cfg)
	if !errors.Is(err, ErrAuthRefused) {
		t.Fatalf("Dial with an expired certificate = %v, want ErrAuthRefused", err)
	}
	wantContains(t, "error", err.Error(), `certificate "admin-ssh-alice" for root`, "EXPIRED", "spire access ssh")

	_, otherPub := writeAdminKey(t)
	writeCert(userCert(t, userCA, otherPub, now, now.Add(time.Hour)))
	if _, err := LoadSigners(keyPath); err == nil || !strings.Contains(err.Error(), "does not certify") {
		t.Errorf("LoadSigners with another key's certificate = %v", err)
	}
	if _, err := LoadSigners(filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "spire access ssh") {
		t.Errorf("LoadSigners of a missing key = %v", err)
	}
}

// spire access ssh puts the key and certificate in the admin's ssh-agent;
// a real ssh-agent serves them here.
func TestLoginWithAgent(t *testing.T) {
	t.Parallel()
	userCA := newSigner(t)
	s := startServer(t, "supervisor", remotetest.Options{UserCA: userCA.PublicKey()})
	sock := filepath.Join(t.TempDir(), "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := cmd.Start(); err != nil {
		t.Fatalf("ssh-agent (scripts/install-deps installs openssh-client): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The socket file appears when bound, a moment before it listens.
	var conn net.Conn
	testutil.WaitFor(t, testTimeout, "ssh-agent to listen", func() (bool, error) {
		var err error
		conn, err = net.Dial("unix", sock)
		return err == nil, err
	})
	defer conn.Close()
	pub, priv, _ := ed25519.GenerateKey(nil)
	sshPub, _ := ssh.NewPublicKey(pub)
	now := time.Now()
	if err := agent.NewClient(conn).Add(agent.AddedKey{PrivateKey: priv,
		Certificate: userCert(t, userCA, sshPub, now.Add(-time.Minute), now.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}

	cfg := s.trusting(t)
	signers, done, err := AgentSigners(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	cfg.Signers = signers
	if out, err := s.dial(t, cfg).Run(context.Background(), "echo via agent", nil); err != nil || string(out) != "via agent\n" {
		t.Fatalf("Run = %q, %v", out, err)
	}
}

func TestHostString(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		h    Host
		want string
	}{
		{Host{Name: "supervisor", Addr: "10.213.0.2:" + sshPort}, "supervisor (10.213.0.2:" + sshPort + ")"},
		{Host{Name: "supervisor", Addr: "10.213.0.2"}, "supervisor (10.213.0.2:" + sshPort + ")"},
		{Host{Addr: "10.213.0.2:2222"}, "10.213.0.2:2222"},
		{Host{Name: "fd00::1", Addr: "[fd00::1]"}, "[fd00::1]:" + sshPort},
	} {
		if got := c.h.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.h, got, c.want)
		}
	}
}

func loadSigners(t *testing.T, keyPath string) []ssh.Signer {
	t.Helper()
	signers, err := LoadSigners(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	return signers
}
