package keyclient_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keyclient"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/policy"
)

// skewBackoffs are the retry delays the agent logged after refusing a
// certificate of cred for clock skew, in order.
func skewBackoffs(t *testing.T, n *node, cred string) []time.Duration {
	t.Helper()
	re := regexp.MustCompile(`^keyclient: ` + regexp.QuoteMeta(cred) + `: .*this node's clock is ahead of the keyserver's by about 50d; fix the clock \(NTP\) \(retrying in (\S+)\)$`)
	var out []time.Duration
	for _, line := range strings.Split(n.logs.String(), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			d, err := time.ParseDuration(m[1])
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			out = append(out, d)
		}
	}
	return out
}

// TestFastClockBacksOffAndReportsSkew runs a node whose clock is 50 days
// ahead while role certificates live an hour: each arrives already expired
// by the node's clock. The agent must refuse each one, back off further
// every time, and say that its clock is wrong, instead of asking again at
// once.
func TestFastClockBacksOffAndReportsSkew(t *testing.T) {
	const skew = 50 * 24 * time.Hour
	// The identity outlives the skew, so the node gets that far.
	c := keysystemtest.Start(t, policy.Lifetimes{Keygrant: 100 * 24 * time.Hour, NodeCert: time.Hour, SSHHost: time.Hour, Admin: time.Hour, Token: time.Hour, User: time.Hour})
	n := start(t, c, "worker1", install(t, c, "worker1", true), keyclient.Options{
		Now: func() time.Time { return time.Now().Add(skew) },
		// The handshake by the system clock: by the node's, the
		// keyserver's day-long certificate would look expired.
		HandshakeNow: time.Now,
		RetryMin:     20 * time.Millisecond, RetryMax: time.Hour, // never capped within the test
	})
	const failures = 5
	who := fqdn(c, "worker1")
	creds := map[string]keyapi.API{"kubernetes-worker": keyapi.GrantKubeWorker, "ssh-host": keyapi.GrantSSHHost}
	n.waitFor(30*time.Second, "5 skew failures logged for each certificate", func() bool {
		done := true
		for cred, api := range creds {
			// Issued before logged: an attempt in flight may be issued but
			// not yet refused.
			issued := len(grants(t, c, who, api))
			logged := len(skewBackoffs(t, n, cred))
			if issued > logged+1 {
				t.Fatalf("keyserver issued %d %s certificates to a node with a fast clock that logged %d refusals\nlog:\n%s", issued, cred, logged, n.logs)
			}
			done = done && logged >= failures
		}
		return done
	})
	for cred, api := range creds {
		issued := grants(t, c, who, api)
		backoffs := skewBackoffs(t, n, cred)
		for i := 1; i < failures; i++ {
			if backoffs[i] < backoffs[i-1] {
				t.Errorf("%s: backoff shrank: %v", cred, backoffs)
			}
		}
		if backoffs[failures-1] <= backoffs[0] {
			t.Errorf("%s: backoff did not grow: %v", cred, backoffs)
		}
		// The agent never asks again before its backoff has passed (the
		// log rounds to the millisecond).
		for i := 0; i+1 < len(issued) && i < len(backoffs); i++ {
			if gap := issued[i+1].Sub(issued[i]); gap < backoffs[i]-time.Millisecond {
				t.Errorf("%s: attempt %d came %v after the previous one, before its backoff of %v", cred, i+2, gap, backoffs[i])
			}
		}
		path := n.layout.Path(credentialByName(t, cred).Path)
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s: a certificate expired on arrival was installed (stat: %v)", cred, err)
		}
	}
	got, ok := metric(t, n.agent, "homeworld_keyclient_clock_skew_seconds")
	if !ok || got < (skew-time.Hour).Seconds() || got > (skew+time.Hour).Seconds() {
		t.Errorf("homeworld_keyclient_clock_skew_seconds = %v (exported: %v), want about %v", got, ok, skew.Seconds())
	}
}

// TestFastClockAtAdmissionKeepsIdentity admits a node whose clock is 50
// days ahead, past the identity's lifetime. The keyserver spends the token,
// so the agent keeps the identity although it looks expired, says to fix the
// clock (not to admit the node again), and once the clock is right becomes
// ready without a new token.
func TestFastClockAtAdmissionKeepsIdentity(t *testing.T) {
	var ahead atomic.Int64
	ahead.Store(int64(50 * 24 * time.Hour))
	c := keysystemtest.Start(t, policy.Lifetimes{}) // identities live 40 days
	l := install(t, c, "worker1", true)
	n := start(t, c, "worker1", l, keyclient.Options{
		Now:          func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) },
		HandshakeNow: time.Now, // as in TestFastClockBacksOffAndReportsSkew
		MaxSleep:     50 * time.Millisecond,
	})
	n.waitFor(10*time.Second, "a request to fix the clock", func() bool {
		return strings.Contains(n.logs.String(), "keyclient: node identity expired at ") &&
			strings.Contains(n.logs.String(), "by this node's clock: this node's clock is ahead of the keyserver's by about 50d; fix the clock (NTP)")
	})
	if _, err := os.Stat(l.GrantingCert()); err != nil {
		t.Errorf("identity obtained with the token was not kept: %v", err)
	}
	if _, err := os.Stat(l.BootstrapToken()); !os.IsNotExist(err) {
		t.Errorf("spent token left in place: %v", err)
	}
	if v, _ := metric(t, n.agent, "homeworld_keyclient_needs_admission_token"); v != 0 {
		t.Errorf("homeworld_keyclient_needs_admission_token = %v; the node needs its clock fixed, not a token", v)
	}
	if got := len(grants(t, c, fqdn(c, "worker1"), keyapi.RenewKeygrant)); got != 1 {
		t.Errorf("keyserver issued %d identities, want 1\nlog:\n%s", got, n.logs)
	}

	ahead.Store(0) // the admin fixes the clock
	n.waitReady(20 * time.Second)
	if got := len(grants(t, c, fqdn(c, "worker1"), keyapi.RenewKeygrant)); got != 1 {
		t.Errorf("keyserver issued %d identities, want 1", got)
	}
}

// TestExpiredKeyserverCertificateNamesClock points a node at a keyserver
// whose certificate expired two hours ago by the node's clock, as a node
// whose clock runs days ahead sees every keyserver: no certificate ever
// arrives to estimate the skew from, so the failed handshake must name the
// clock.
func TestExpiredKeyserverCertificateNamesClock(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	ca := c.Authority(keyapi.ClusterCA)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	name := c.Config.FQDN(c.Config.Supervisor())
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-3 * time.Hour), NotAfter: time.Now().Add(-2 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca.Cert, key.Public(), ca.Signer)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", c.Config.Supervisor().IP+":0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	n := start(t, c, "worker1", install(t, c, "worker1", true), keyclient.Options{Keyserver: ln.Addr().String()})
	n.waitFor(10*time.Second, "word of the clock", func() bool {
		return strings.Contains(n.logs.String(), "expired at ") &&
			strings.Contains(n.logs.String(), "this node's clock is ahead of the keyserver's by at least 2h; fix the clock (NTP)")
	})
	if got, _ := metric(t, n.agent, "homeworld_keyclient_clock_skew_seconds"); got < (2*time.Hour-time.Minute).Seconds() || got > (3*time.Hour).Seconds() {
		t.Errorf("homeworld_keyclient_clock_skew_seconds = %v, want at least about 2h", got)
	}
}
