package keyserver_test

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
)

// breakGlassIdentity is a keygranting certificate for principal marked as
// spire's disaster-key identities are.
func breakGlassIdentity(t *testing.T, c *keysystemtest.Cluster, principal string) *tls.Certificate {
	t.Helper()
	ca := c.Authority(keyapi.Keygranting)
	key, _ := pki.NewKey()
	cert, err := pki.IssueTLS(ca.Signer, ca.Cert, key.Public(), pki.TLSGrant{
		CommonName: principal, Organizations: []string{keyapi.BreakGlassOrg}, Usage: pki.ClientAuth, Lifetime: time.Hour,
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// auditSince parses the audit lines written after offset.
func auditSince(t *testing.T, c *keysystemtest.Cluster, offset int) []audit.Event {
	t.Helper()
	var out []audit.Event
	for _, l := range strings.Split(strings.TrimSpace(c.AuditLog()[offset:]), "\n") {
		if l == "" {
			continue
		}
		var ev audit.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		out = append(out, ev)
	}
	return out
}

// TestAuditSaysHowCallersAuthenticated: every line of a request says how
// its caller authenticated, and a break-glass identity is flagged on all
// of them, refusals included.
func TestAuditSaysHowCallersAuthenticated(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	check := func(what, want string, do func() error, wantErr bool) {
		t.Helper()
		before := len(c.AuditLog())
		if err := do(); (err != nil) != wantErr {
			t.Fatalf("%s: %v", what, err)
		}
		events := auditSince(t, c, before)
		if len(events) == 0 {
			t.Fatalf("%s left no audit line", what)
		}
		for _, ev := range events {
			if ev.Auth != want {
				t.Errorf("%s: %s line of %s says auth %q, want %q", what, ev.Action, ev.Principal, ev.Auth, want)
			}
		}
	}
	admin := c.Client("127.0.0.200", breakGlassIdentity(t, c, "admin"))
	var tok string
	check("break-glass admission", "break-glass", func() (err error) {
		tok, err = admin.Call1(ctx, "", keyapi.Admit, "worker1.test.homeworld.example")
		return err
	}, false)
	check("break-glass refusal", "break-glass", func() error {
		_, err := admin.Call1(ctx, "", keyapi.GetLocalConfig, "")
		return err
	}, true)
	check("break-glass unknown principal", "break-glass", func() error {
		_, err := c.Client("127.0.0.201", breakGlassIdentity(t, c, "stranger")).Call1(ctx, "", keyapi.GetLocalConfig, "")
		return err
	}, true)
	check("redemption", "token", func() error {
		_, err := c.Client("127.0.0.31", nil).Call1(ctx, tok, keyapi.RenewKeygrant, csr(t))
		return err
	}, false)
	check("node", "certificate", func() error {
		_, err := c.NodeClient("worker1").Call1(ctx, "", keyapi.GetLocalConfig, "")
		return err
	}, false)
	check("admin through the gateway", "certificate", func() error {
		_, err := c.GatewayClient().Call(ctx, "", keyapi.Request{API: keyapi.ImpersonateAdmin, Body: "admin"}, keyapi.Request{API: keyapi.Admit, Body: "worker2.test.homeworld.example"})
		return err
	}, false)
	check("anonymous", "", func() error {
		_, err := c.Client("127.0.0.202", nil).Call1(ctx, "", keyapi.GetLocalConfig, "")
		wantStatus(t, err, http.StatusUnauthorized, "no credentials")
		return err
	}, true)
}
