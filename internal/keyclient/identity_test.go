package keyclient_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keyclient"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
)

// TestUnusableIdentityIsReplacedWithNewToken stops a ready node, makes its
// identity unusable (expired, or a certificate of another key), and
// restarts it: without a token it says to admit the node again; with a new
// token it gets a new identity and is ready.
func TestUnusableIdentityIsReplacedWithNewToken(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	who := fqdn(c, "worker1")
	cases := []struct {
		name, says string
		identity   func(key crypto.Signer) []byte
	}{
		{"expired", "node identity expired at ", func(key crypto.Signer) []byte {
			ca := c.Authority(keyapi.Keygranting)
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: who},
				NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Signer)
			if err != nil {
				t.Fatal(err)
			}
			return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		}},
		{"another key", "node identity is unusable", func(crypto.Signer) []byte {
			return pki.EncodeCert(c.Identity(who).Leaf)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := install(t, c, "worker1", true)
			first := start(t, c, "worker1", l, keyclient.Options{})
			first.waitReady(20 * time.Second)
			first.stop()
			key := readKey(t, l.GrantingKey())
			if err := os.WriteFile(l.GrantingCert(), tc.identity(key), 0o644); err != nil {
				t.Fatal(err)
			}

			n := start(t, c, "worker1", l, keyclient.Options{MaxSleep: 50 * time.Millisecond})
			n.waitFor(10*time.Second, "a request to admit the node again", func() bool {
				s := n.logs.String()
				return strings.Contains(s, tc.says) && strings.Contains(s, "admit the node again: spire infra admit worker1")
			})
			if v, _ := metric(t, n.agent, "homeworld_keyclient_needs_admission_token"); v != 1 {
				t.Errorf("homeworld_keyclient_needs_admission_token = %v, want 1", v)
			}
			if err := keyclient.InstallToken(l, c.Admit("worker1")); err != nil {
				t.Fatal(err)
			}
			n.waitReady(20 * time.Second)
			cert := readCert(t, l.GrantingCert())
			if !time.Now().Before(cert.NotAfter) || !keyMatches(readKey(t, l.GrantingKey()), cert.PublicKey) {
				t.Errorf("identity after readmission: valid until %v, matches key: %v", cert.NotAfter, keyMatches(readKey(t, l.GrantingKey()), cert.PublicKey))
			}
			if v, _ := metric(t, n.agent, "homeworld_keyclient_needs_admission_token"); v != 0 {
				t.Errorf("homeworld_keyclient_needs_admission_token = %v after readmission, want 0", v)
			}
		})
	}
}
