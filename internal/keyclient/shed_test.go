package keyclient_test

import (
	"crypto/tls"
	"io"
	"regexp"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keyclient"
	"homeworld.dev/homeworld/internal/keyserver"
	"homeworld.dev/homeworld/internal/keysystemtest"
)

// A busy keyserver closes a connection before its handshake (admission
// control): the agent takes that as an ordinary failed attempt, retries
// after a jittered backoff from RetryMin, and is ready once the keyserver
// has room.
func TestShedConnectionIsRetried(t *testing.T) {
	c := keysystemtest.StartWith(t, keysystemtest.Options{Admission: keyserver.Admission{MaxActive: 1, MaxWait: 200 * time.Millisecond}})
	root := install(t, c, "worker1", true)
	// Take the keyserver's one slot: half a request keeps it.
	busy, err := tls.Dial("tcp", c.Addr, &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: c.ClusterCA(), ServerName: c.Config.FQDN(c.Config.Supervisor())})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := io.WriteString(busy, "GET "+keyapi.PathHealthz+" HTTP/1.1\r\nHost: keyserver\r\n"); err != nil {
		t.Fatal(err)
	}

	const retryMin = 400 * time.Millisecond
	n := start(t, c, "worker1", root, keyclient.Options{RetryMin: retryMin, RetryMax: 2 * time.Second})
	retrying := regexp.MustCompile(`keygranting: keyserver unreachable: .* \(retrying in ([0-9.]+m?s)\)`)
	var first []string
	n.waitFor(20*time.Second, "a failed attempt while the keyserver is busy", func() bool {
		first = retrying.FindStringSubmatch(n.logs.String())
		return first != nil
	})
	backoff, err := time.ParseDuration(first[1])
	if err != nil {
		t.Fatal(err)
	}
	if backoff < retryMin/2 || backoff > retryMin {
		t.Errorf("first retry after %v; want a jittered RetryMin, %v to %v", backoff, retryMin/2, retryMin)
	}
	busy.Close()
	n.waitReady(30 * time.Second)
}
