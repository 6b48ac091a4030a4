package access_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/pki"
)

// TestSSHCertIntoAgent: the workspace key is made once and kept, certified
// by the keyserver, written beside the key, and accepted by an ssh-agent.
func TestSSHCertIntoAgent(t *testing.T) {
	admin, c := connect(t)
	keyPath := access.SSHKeyPath(t.TempDir())
	key, cert, err := admin.WriteSSHCert(context.Background(), keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(keyPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", st, err)
	}
	pub, _ := ssh.NewPublicKey(key.Public())
	if !bytes.Equal(cert.Key.Marshal(), pub.Marshal()) {
		t.Error("the certificate is not for the workspace key")
	}
	userCA := c.Authority(keyapi.SSHUser)
	if !bytes.Equal(cert.SignatureKey.Marshal(), userCA.SSHKey.Marshal()) {
		t.Error("the certificate is not signed by ssh-user")
	}
	written, err := os.ReadFile(keyPath + "-cert.pub")
	if err != nil || !bytes.Equal(bytes.TrimSpace(written), bytes.TrimSpace(ssh.MarshalAuthorizedKey(cert))) {
		t.Errorf("certificate file: %q %v", written, err)
	}
	again, err := access.LoadOrCreateSSHKey(keyPath)
	if err != nil || !again.Equal(key) {
		t.Errorf("the key was not kept: %v", err)
	}

	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	keyring := agent.NewKeyring()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(keyring, conn); conn.Close() }()
		}
	}()
	if err := access.AddToAgent(sock, key, cert); err != nil {
		t.Fatal(err)
	}
	keys, err := keyring.List()
	if err != nil || len(keys) != 1 || !bytes.Equal(keys[0].Blob, cert.Marshal()) || !strings.HasPrefix(keys[0].Comment, "homeworld ") {
		t.Errorf("agent holds %v (%v), want the certificate", keys, err)
	}
}

func TestLoadOrCreateSSHKeyRefusesOtherKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ssh-key")
	os.WriteFile(path, []byte("not a key"), 0o600)
	if _, err := access.LoadOrCreateSSHKey(path); err == nil {
		t.Error("accepted a file that is not a key")
	}
}

func TestUpdateKnownHostsFile(t *testing.T) {
	key, err := pki.NewSSHKey()
	if err != nil {
		t.Fatal(err)
	}
	hostCA, _ := ssh.NewPublicKey(key.Public())
	path := filepath.Join(t.TempDir(), "new", "known_hosts")
	for range 2 {
		got, err := access.UpdateKnownHosts(path, "example.org", hostCA)
		if err != nil || got != path {
			t.Fatalf("UpdateKnownHosts = %q, %v", got, err)
		}
	}
	data, _ := os.ReadFile(path)
	if strings.Count(string(data), "@cert-authority *.example.org ") != 1 {
		t.Errorf("known_hosts:\n%s", data)
	}
}
