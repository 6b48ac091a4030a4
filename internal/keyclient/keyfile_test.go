package keyclient_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/keyclient"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
)

// TestCorruptKeysAreReplaced empties a role key and garbles the SSH host
// key of a ready node: the agent makes new keys and certifies them.
func TestCorruptKeysAreReplaced(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	l := install(t, c, "worker1", true)
	n := start(t, c, "worker1", l, keyclient.Options{MaxSleep: 50 * time.Millisecond})
	n.waitReady(20 * time.Second)
	worker := credentialByName(t, "kubernetes-worker")
	if err := os.Truncate(l.Path(worker.KeyPath), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.SSHHostKey(), []byte("-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsOK := func() bool {
		kd, _ := os.ReadFile(l.Path(worker.KeyPath))
		cd, _ := os.ReadFile(l.Path(worker.Path))
		key, kerr := pki.ParseKey(kd)
		cert, cerr := pki.ParseCert(cd)
		return kerr == nil && cerr == nil && keyMatches(key, cert.PublicKey)
	}
	sshOK := func() bool {
		kd, _ := os.ReadFile(l.SSHHostKey())
		key, err := pki.ParseKey(kd)
		if err != nil {
			return false
		}
		pub, err := ssh.NewPublicKey(key.Public())
		if err != nil {
			return false
		}
		cd, _ := os.ReadFile(l.SSHHostCert())
		k, _, _, _, err := ssh.ParseAuthorizedKey(cd)
		cert, ok := k.(*ssh.Certificate)
		if err != nil || !ok || string(cert.Key.Marshal()) != string(pub.Marshal()) {
			return false
		}
		pd, _ := os.ReadFile(l.SSHHostKey() + ".pub")
		p, _, _, _, err := ssh.ParseAuthorizedKey(pd)
		return err == nil && string(p.Marshal()) == string(pub.Marshal())
	}
	n.waitFor(20*time.Second, "corrupt keys replaced and certified", func() bool {
		return tlsOK() && sshOK()
	})
	for _, p := range []string{l.Path(worker.KeyPath), l.SSHHostKey()} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v", p, st.Mode().Perm(), err)
		}
		if !strings.Contains(n.logs.String(), p+" is unusable") {
			t.Errorf("no log of replacing %s\nlog:\n%s", p, n.logs)
		}
	}
	n.waitFor(20*time.Second, "ready again", n.agent.IsReady)
}

// TestLoosenedKeyModesAreTightened makes a ready master's key files
// world-readable; the agent sets them back to 0600.
func TestLoosenedKeyModesAreTightened(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	l := install(t, c, "master1", true)
	n := start(t, c, "master1", l, keyclient.Options{MaxSleep: 50 * time.Millisecond})
	n.waitReady(20 * time.Second)
	paths := []string{l.GrantingKey(), l.SSHHostKey(), l.Path(credentialByName(t, "kubernetes-master").KeyPath), l.Path(credentialByName(t, "serviceaccount-key").Path)}
	for _, p := range paths {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n.waitFor(20*time.Second, "loosened key modes restored", func() bool {
		for _, p := range paths {
			if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
				return false
			}
		}
		return true
	})
}

// TestWriteReplacesLooseMode: a file written with mode 0600 is 0600 even if
// the file it replaces was not.
func TestWriteReplacesLooseMode(t *testing.T) {
	l := layout.Node{Root: t.TempDir()}
	if err := os.MkdirAll(l.Path(layout.KeyclientDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.BootstrapToken(), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(l.BootstrapToken(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := keyclient.InstallToken(l, "new"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(l.BootstrapToken()); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("token mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
}
