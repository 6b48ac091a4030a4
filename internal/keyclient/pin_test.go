package keyclient_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/keyclient"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/policy"
)

// A server with a cluster certificate that names the supervisor but is not
// the keyserver's (as the registry's once did) gets nothing from the
// keyclient: not the token, not a request.
func TestKeyclientRefusesImpostorKeyserver(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	l := install(t, c, "worker1", true)
	n := start(t, c, "worker1", l, keyclient.Options{Keyserver: c.Impostor()})
	n.waitFor(20*time.Second, "the keyclient refusing the impostor", func() bool {
		return strings.Contains(n.logs.String(), "not the keyserver's")
	})
	if n.agent.IsReady() {
		t.Fatal("ready against an impostor")
	}
	if _, err := os.Stat(l.BootstrapToken()); err != nil {
		t.Errorf("the admission token is gone after talking to an impostor: %v", err)
	}
	if _, err := os.Stat(l.GrantingCert()); err == nil {
		t.Error("an identity was installed from an impostor")
	}
}
