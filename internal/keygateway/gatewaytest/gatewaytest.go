// Package gatewaytest runs a real key gateway for tests: in front of a
// keysystemtest keyserver, accepting tickets of a krb5test realm, with the
// credentials the supervisor's keyclient would obtain (asked of the
// keyserver the same way) and over real TLS. Only tests import it.
package gatewaytest

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"testing"

	"homeworld.dev/homeworld/internal/policy"

	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/keygateway"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/krb5test"
	"homeworld.dev/homeworld/internal/pki"
)

// Gateway is a running gateway.
type Gateway struct {
	Addr      string // host:port
	Files     keygateway.Files
	KDC       *krb5test.KDC
	Keyserver *keysystemtest.Cluster
	Server    *keygateway.Server
}

// Start registers the gateway's and the probe's principals in kdc, writes
// the keytab and obtains the gateway's certificates from ks, then serves
// on the supervisor's address until t ends. ks's setup.yaml must name
// kdc's realm.
func Start(t testing.TB, ks *keysystemtest.Cluster, kdc *krb5test.KDC) *Gateway {
	t.Helper()
	cfg := ks.Config
	dir := t.TempDir()
	g := &Gateway{KDC: kdc, Keyserver: ks, Files: keygateway.Files{
		Keytab:       filepath.Join(dir, "krb5.keytab"),
		Krb5Conf:     filepath.Join(dir, "krb5.conf"), // none: MIT's default skew
		IdentityCert: filepath.Join(dir, "keygateway.pem"),
		IdentityKey:  filepath.Join(dir, "keygateway.key"),
		ServingCert:  filepath.Join(dir, "keygateway-https.pem"),
		ServingKey:   filepath.Join(dir, "keygateway-https.key"),
		ClusterCA:    filepath.Join(dir, "clusterca.pem"),
		Audit:        filepath.Join(dir, "keygateway-audit.log"),
	}}
	service := policy.GatewayService(cfg)
	kdc.AddService(t, service)
	kdc.AddService(t, policy.GatewayProbe(cfg))
	kdc.Keytab(t, g.Files.Keytab, service, policy.GatewayProbe(cfg))
	sup := ks.NodeClient(cfg.Supervisor().Hostname)
	defer sup.Close()
	for _, c := range []struct {
		cred      credential.Credential
		cert, key string
	}{{credential.Keygateway, g.Files.IdentityCert, g.Files.IdentityKey}, {credential.KeygatewayHTTPS, g.Files.ServingCert, g.Files.ServingKey}} {
		key, err := pki.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		csr, err := pki.MakeCSR(key)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := sup.Call1(context.Background(), "", c.cred.API, string(csr))
		if err != nil {
			t.Fatalf("the supervisor's %s: %v", c.cred.Name, err)
		}
		keyPEM, err := pki.EncodeKey(key)
		if err != nil {
			t.Fatal(err)
		}
		write(t, c.cert, []byte(cert), 0o644)
		write(t, c.key, keyPEM, 0o600)
	}
	write(t, g.Files.ClusterCA, ks.ClusterCAPEM(), 0o644)
	setup := filepath.Join(dir, "setup.yaml")
	write(t, setup, []byte(ks.SetupYAML), 0o644)
	srv, err := keygateway.Load(keygateway.Options{
		Setup: setup, Files: g.Files, Keyserver: ks.Addr, LocalAddr: cfg.Supervisor().IP, Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	g.Server = srv
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Supervisor().IP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	g.Addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.ServeListener(ctx, tls.NewListener(ln, srv.TLS), srv.Gateway.Handler()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("keygateway: %v", err)
		}
		srv.Close()
	})
	return g
}

// AuditLog is the gateway's audit log so far.
func (g *Gateway) AuditLog() string {
	data, _ := os.ReadFile(g.Files.Audit)
	return string(data)
}

func write(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}
