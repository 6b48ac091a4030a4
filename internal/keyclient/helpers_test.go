package keyclient_test

import (
	"bufio"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keyclient"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/testutil"
)

// waitFor polls cond until it holds; after d it fails naming what was
// awaited, with the agent's log as it is then.
func (n *node) waitFor(d time.Duration, what string, cond func() bool) {
	n.t.Helper()
	testutil.WaitFor(n.t, d, what, func() (bool, error) { return cond(), agentLog{n.logs} })
}

// agentLog puts an agent's log in WaitFor's failure message; it is read
// only when the wait fails.
type agentLog struct{ logs *logBuffer }

func (l agentLog) Error() string { return "agent log:\n" + l.logs.String() }

// metric returns the value of an unlabelled metric the agent exports.
func metric(t *testing.T, a *keyclient.Agent, name string) (float64, bool) {
	t.Helper()
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f, true
		}
	}
	return 0, false
}

// grants lists when the keyserver issued api to principal, from its audit log.
func grants(t *testing.T, c *keysystemtest.Cluster, principal string, api keyapi.API) []time.Time {
	t.Helper()
	var out []time.Time
	sc := bufio.NewScanner(strings.NewReader(c.AuditLog()))
	for sc.Scan() {
		var e struct {
			Time                           time.Time
			Action, Principal, API, Result string
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Action == "grant" && e.Principal == principal && e.API == string(api) {
			out = append(out, e.Time)
		}
	}
	return out
}

func fqdn(c *keysystemtest.Cluster, host string) string {
	n, _ := c.Config.FindNode(host)
	return c.Config.FQDN(n)
}

func credentialByName(t *testing.T, name string) credential.Credential {
	t.Helper()
	for _, c := range credential.Catalogue {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no credential %s", name)
	return credential.Credential{}
}

func readKey(t *testing.T, path string) crypto.Signer {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ParseKey(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return key
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCert(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cert
}

func keyMatches(key crypto.Signer, pub crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := key.Public().(equaler)
	return ok && e.Equal(pub)
}
