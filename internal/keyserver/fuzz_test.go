package keyserver_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keyserver"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/token"
)

// fuzzCaller is one way of calling: as an account with its identity (from
// its own address or another), with a token, or anonymously.
type fuzzCaller struct {
	principal string // "" anonymous
	remote    string
	token     bool
}

// FuzzAPIRequest sends arbitrary batches as several principals to the real
// handler and checks every answer against the policy: nothing is granted
// to a caller the policy does not grant it, every certificate carries only
// the grant's names, and anonymous or misplaced callers get nothing.
func FuzzAPIRequest(f *testing.F) {
	cfg, _, err := config.Parse("setup.yaml", []byte(keysystemtest.Setup))
	if err != nil {
		f.Fatal(err)
	}
	pol, err := policy.Build(cfg, nodeconf.ForCluster(cfg), policy.DefaultLifetimes)
	if err != nil {
		f.Fatal(err)
	}
	auths, err := authority.Generate("fuzz", time.Now())
	if err != nil {
		f.Fatal(err)
	}
	// A fresh server every few hundred tokens: the token file is rewritten
	// whole on every change, which an admin's handful of tokens never
	// notices but thousands of fuzz executions would.
	var h http.Handler
	var tokens *token.Store
	issued := 0
	// On tmpfs when there is one: every request fsyncs the audit log,
	// which on a busy disk would slow the fuzzer to a crawl.
	root, err := os.MkdirTemp("/dev/shm", "keyserver-fuzz")
	if err != nil {
		root = f.TempDir()
	} else {
		f.Cleanup(func() { os.RemoveAll(root) })
	}
	fresh := func(tb testing.TB) {
		dir, err := os.MkdirTemp(root, "keyserver")
		if err != nil {
			tb.Fatal(err)
		}
		tokens, _ = token.Open(filepath.Join(dir, "tokens.json"), time.Now)
		log, _ := audit.Open(filepath.Join(dir, "audit.log"), time.Now)
		srv, err := keyserver.New(keyserver.Options{Policy: pol, Authorities: auths, Tokens: tokens, Audit: log, Logf: func(string, ...any) {}})
		if err != nil {
			tb.Fatal(err)
		}
		h, issued = srv.Handler(), 0
	}
	fresh(f)
	granting := keysystemtest.Authority(f, auths, keyapi.Keygranting)
	identity := map[string]*x509.Certificate{}
	sup := cfg.FQDN(cfg.Supervisor())
	callers := []fuzzCaller{
		{"", "127.0.0.200", false},
		{"", "127.0.0.31", true},
		{"worker1.test.homeworld.example", "127.0.0.31", false},
		{"worker1.test.homeworld.example", "127.0.0.32", false},
		{"master1.test.homeworld.example", "127.0.0.21", false},
		{sup, "127.0.0.10", false},
		{policy.MonitorPrincipal(sup), "127.0.0.10", false},
		{policy.GatewayPrincipal(sup), "127.0.0.10", false},
		{policy.GatewayPrincipal(sup), "127.0.0.200", false},
		{policy.UserGrantPrincipal(sup), "127.0.0.10", false},
		{"admin", "127.0.0.200", false},
		{policy.MonitorProbe, "127.0.0.10", false},
	}
	for _, c := range callers {
		if c.principal == "" || identity[c.principal] != nil {
			continue
		}
		key, _ := pki.NewKey()
		identity[c.principal], _ = pki.IssueTLS(granting.Signer, granting.Cert, key.Public(), pki.TLSGrant{CommonName: c.principal, Usage: pki.ClientAuth, Lifetime: time.Hour}, time.Now())
	}
	key, _ := pki.NewKey()
	csrPEM, _ := pki.MakeCSR(key)
	userCSR := csrFor(f, pkix.Name{CommonName: "user:alice"})
	mastersCSR := csrFor(f, pkix.Name{CommonName: "user:alice", Organization: []string{"system:masters"}})
	sshKey, _ := pki.NewSSHKey()
	sshPub, _ := ssh.NewPublicKey(sshKey.Public())
	pubLine := string(ssh.MarshalAuthorizedKey(sshPub))
	seed := func(caller uint8, reqs ...keyapi.Request) {
		body, _ := json.Marshal(keyapi.Batch{Requests: reqs})
		f.Add(caller, body)
	}
	for i := range callers {
		seed(uint8(i), keyapi.Request{API: keyapi.RenewKeygrant, Body: string(csrPEM)})
		seed(uint8(i), keyapi.Request{API: keyapi.GrantEtcdServer, Body: string(csrPEM)})
		seed(uint8(i), keyapi.Request{API: keyapi.GrantSSHHost, Body: pubLine})
		seed(uint8(i), keyapi.Request{API: keyapi.ImpersonateAdmin, Body: "admin"}, keyapi.Request{API: keyapi.AccessKubernetes, Body: string(csrPEM)})
		seed(uint8(i), keyapi.Request{API: keyapi.ImpersonateAdmin, Body: policy.MonitorProbe}, keyapi.Request{API: keyapi.AccessSSH, Body: pubLine})
		seed(uint8(i), keyapi.Request{API: keyapi.Admit, Body: "worker2.test.homeworld.example"})
		seed(uint8(i), keyapi.Request{API: keyapi.FetchServiceAccountKey})
		seed(uint8(i), keyapi.Request{API: keyapi.Deny, Body: "serial:abc"})
		seed(uint8(i), keyapi.Request{API: keyapi.SignKubeUser, Body: userCSR})
		seed(uint8(i), keyapi.Request{API: keyapi.SignKubeUser, Body: mastersCSR})
		seed(uint8(i), keyapi.Request{API: keyapi.GrantKeygatewayHTTPS, Body: string(csrPEM)})
	}
	f.Add(uint8(0), []byte(`{"requests":[{"api":"x"}],"y":1}`))

	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		c := callers[int(which)%len(callers)]
		req := httptest.NewRequest(http.MethodPost, keyapi.PathAPI, bytes.NewReader(body))
		req.RemoteAddr = c.remote + ":40000"
		req.TLS = &tls.ConnectionState{}
		if id := identity[c.principal]; id != nil {
			req.TLS.VerifiedChains = [][]*x509.Certificate{{id, granting.Cert}}
		}
		if c.token {
			if issued++; issued > 200 {
				fresh(t)
			}
			tok, _, err := tokens.Issue("worker1.test.homeworld.example", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set(keyapi.TokenHeader, tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return
		}
		acct := pol.Accounts[c.principal]
		switch {
		case c.principal == "" && !c.token:
			t.Fatalf("anonymous caller granted: %s", body)
		case acct != nil && acct.IP.IsValid() && acct.IP.String() != c.remote:
			t.Fatalf("%s granted from %s", c.principal, c.remote)
		case acct != nil && !acct.DirectAuth:
			t.Fatalf("%s authenticated directly", c.principal)
		}
		if c.token {
			acct = pol.Accounts["worker1.test.homeworld.example"]
		}
		var batch keyapi.Batch
		var res keyapi.Results
		if json.Unmarshal(body, &batch) != nil || json.Unmarshal(rec.Body.Bytes(), &res) != nil || len(res.Results) != len(batch.Requests) {
			t.Fatalf("200 for %q: %s", body, rec.Body)
		}
		if c.token && (len(batch.Requests) != 1 || batch.Requests[0].API != keyapi.RenewKeygrant) {
			t.Fatalf("a token bought %s", body)
		}
		for i, r := range batch.Requests {
			g := acct.Grants[r.API]
			if g == nil {
				t.Fatalf("%s granted %s outside policy", acct.Principal, r.API)
			}
			checkResult(t, g, r.Body, res.Results[i])
			if g.Privilege == policy.Impersonate {
				acct = pol.Accounts[r.Body]
				if !pol.InGroup(g.Scope, r.Body) {
					t.Fatalf("impersonated %s outside %s", r.Body, g.Scope)
				}
			}
		}
	})
}

// checkResult verifies an issued certificate carries exactly the grant's
// names and usage; a user's, exactly the user its request named.
func checkResult(t *testing.T, g *policy.Grant, body, result string) {
	switch g.Privilege {
	case policy.SignTLS, policy.SignUserTLS:
		cert, err := pki.ParseCert([]byte(result))
		if err != nil {
			t.Fatal(err)
		}
		want := g.TLS
		if g.Privilege == policy.SignUserTLS {
			csr, err := pki.ParseCSR([]byte(body))
			if err != nil {
				t.Fatalf("%s signed a request that does not parse: %v", g.API, err)
			}
			name, err := policy.KubeUserName(csr.Subject.CommonName)
			if err != nil || len(csr.Subject.Organization) != 0 {
				t.Fatalf("%s signed %v", g.API, csr.Subject)
			}
			want = g.UserTLS(name)
		}
		var names, uris []string
		names = append(names, cert.DNSNames...)
		for _, ip := range cert.IPAddresses {
			names = append(names, ip.String())
		}
		for _, u := range cert.URIs {
			uris = append(uris, u.String())
		}
		if cert.Subject.CommonName != want.CommonName || !slices.Equal(cert.Subject.Organization, want.Organizations) || !slices.Equal(names, want.Names) || !slices.Equal(uris, want.URIs) {
			t.Fatalf("%s issued %v %v %v, want the grant's %+v", g.API, cert.Subject, names, uris, want)
		}
	case policy.SignSSH:
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(result))
		if err != nil {
			t.Fatal(err)
		}
		sc := k.(*ssh.Certificate)
		if !slices.Equal(sc.ValidPrincipals, g.SSH.Principals) || sc.KeyId != g.SSH.KeyID || (sc.CertType == ssh.HostCert) != g.SSH.Host {
			t.Fatalf("%s issued %v, want the grant's %+v", g.API, sc.ValidPrincipals, g.SSH)
		}
	case policy.FetchKey:
		if !strings.Contains(result, "PRIVATE KEY") {
			t.Fatalf("%s returned %q", g.API, result)
		}
	}
}

// csrFor is a PEM certificate request asking for subject.
func csrFor(tb testing.TB, subject pkix.Name) string {
	tb.Helper()
	key, err := pki.NewKey()
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}
