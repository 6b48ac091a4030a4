package keyserver_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/policy"
)

func clientFor(t *testing.T, c *keysystemtest.Cluster, source string, edit func(*keyapi.ClientConfig)) *keyapi.Client {
	t.Helper()
	cfg := keyapi.ClientConfig{Address: c.Addr, ServerName: c.Config.FQDN(c.Config.Supervisor()), RootCAs: c.ClusterCA(), LocalAddr: source, Timeout: 10 * time.Second}
	edit(&cfg)
	cl, err := keyapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestClientExpectsItsServer: a client for the key gateway refuses the
// keyserver, whose certificate lacks the gateway's mark.
func TestClientExpectsItsServer(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	gw := clientFor(t, c, "127.0.0.200", func(cfg *keyapi.ClientConfig) { cfg.ServerURI = keyapi.GatewayURI })
	_, err := gw.Static(ctx, "cluster.conf")
	if err == nil || !strings.Contains(err.Error(), "not the key gateway's: it lacks "+keyapi.GatewayURI) {
		t.Errorf("a gateway client talking to the keyserver: %v, want a refusal naming the gateway's mark", err)
	}
	ks := clientFor(t, c, "127.0.0.200", func(cfg *keyapi.ClientConfig) { cfg.ServerURI = keyapi.ServerURI })
	if _, err := ks.Static(ctx, "cluster.conf"); err != nil {
		t.Errorf("a client expecting the keyserver's mark: %v", err)
	}
}

// TestClientAuthorize: Authorize sees every request before it is sent, what
// it adds reaches the server, and its error stops the request.
func TestClientAuthorize(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	tok := c.Admit("worker1")
	var paths []string
	cl := clientFor(t, c, "127.0.0.31", func(cfg *keyapi.ClientConfig) {
		cfg.Authorize = func(r *http.Request) error {
			paths = append(paths, r.URL.Path)
			r.Header.Set(keyapi.TokenHeader, tok)
			return nil
		}
	})
	if _, err := cl.Call1(ctx, "", keyapi.RenewKeygrant, csr(t)); err != nil {
		t.Fatalf("a batch authenticated by what Authorize added: %v", err)
	}
	if _, err := cl.Static(ctx, "cluster.conf"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(paths, " ") != keyapi.PathAPI+" "+keyapi.PathStatic+"cluster.conf" {
		t.Errorf("Authorize saw %v", paths)
	}

	before := c.AuditLog()
	refused := clientFor(t, c, "127.0.0.200", func(cfg *keyapi.ClientConfig) {
		cfg.Authorize = func(*http.Request) error { return errors.New("no Kerberos ticket") }
	})
	_, err := refused.Call1(ctx, "", keyapi.GetLocalConfig, "")
	if err == nil || !strings.Contains(err.Error(), "no Kerberos ticket") {
		t.Errorf("Call with a failing Authorize: %v", err)
	}
	if c.AuditLog() != before {
		t.Error("a request Authorize refused reached the keyserver")
	}
}
