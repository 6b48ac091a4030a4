package keyserver_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keyserver"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/testutil"
)

// The admission metrics' series.
const (
	activeSeries     = "homeworld_keyserver_connections_active"
	queuedSeries     = "homeworld_keyserver_connections_queued"
	shedWaitedSeries = `homeworld_keyserver_connections_shed_total{reason="waited"}`
	shedFullSeries   = `homeworld_keyserver_connections_shed_total{reason="queue-full"}`
)

// metric reads a series from the keyserver's metrics through its handler,
// not a connection: with every slot taken, a scrape would queue too.
func metric(t *testing.T, c *keysystemtest.Cluster, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	c.Server().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, keyapi.PathMetrics, nil))
	for line := range strings.Lines(rec.Body.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", series, err)
			}
			return f
		}
	}
	t.Fatalf("no series %s in the keyserver's metrics", series)
	return 0
}

func waitMetric(t *testing.T, c *keysystemtest.Cluster, series string, want float64) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("%s to be %v", series, want), func() (bool, error) {
		got := metric(t, c, series)
		return got == want, fmt.Errorf("it is %v", got)
	})
}

func tlsTo(c *keysystemtest.Cluster) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: c.ClusterCA(), ServerName: c.Config.FQDN(c.Config.Supervisor())}
}

// dial connects and completes the handshake, within 20 s.
func dial(c *keysystemtest.Cluster) (*tls.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: 20 * time.Second}, "tcp", c.Addr, tlsTo(c))
}

// requestHead is a request without the blank line that ends it: sent
// alone, it keeps its connection active (mid-request) and its slot taken.
const requestHead = "GET " + keyapi.PathHealthz + " HTTP/1.1\r\nHost: keyserver\r\n"

// holdSlot connects and sends half a request.
func holdSlot(t *testing.T, c *keysystemtest.Cluster) *tls.Conn {
	t.Helper()
	conn, err := dial(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, requestHead); err != nil {
		t.Fatal(err)
	}
	return conn
}

// finish sends the rest of the request (or a whole one, if rest is all of
// it) and reads the answer, leaving the connection open.
func finish(conn *tls.Conn, rest string) error {
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	defer conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, rest); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		return fmt.Errorf("answered %s: %q", resp.Status, body)
	}
	return nil
}

// wantShed fails unless err is a connection closed before the handshake:
// end of file or a reset, not a TLS alert or a timeout.
func wantShed(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: handshake succeeded; want the connection closed before it", what)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("%s: %v; want the connection closed before the handshake", what, err)
	}
}

// With one slot and one place in the queue: a connection that waits past
// MaxWait, and one that finds the queue full, are closed without a
// handshake and counted; a queued one is served once the slot frees; idle
// keep-alive connections take no slot.
func TestAdmissionQueuesAndSheds(t *testing.T) {
	// MaxWait also bounds how long the steps between queueing the third
	// connection and freeing the slot may take; they take milliseconds.
	const maxWait = 1500 * time.Millisecond
	c := keysystemtest.StartWith(t, keysystemtest.Options{Admission: keyserver.Admission{MaxActive: 1, MaxQueued: 1, MaxWait: maxWait}})
	first := holdSlot(t, c)
	waitMetric(t, c, activeSeries, 1)

	t0 := time.Now()
	_, err := dial(c)
	waited := time.Since(t0)
	wantShed(t, "a connection waiting while the slot is taken", err)
	if waited < maxWait {
		t.Errorf("a waiting connection was shed after %v, before MaxWait (%v)", waited, maxWait)
	}
	waitMetric(t, c, shedWaitedSeries, 1)

	type dialed struct {
		conn *tls.Conn
		err  error
	}
	third := make(chan dialed, 1)
	go func() {
		conn, err := dial(c)
		third <- dialed{conn, err}
	}()
	waitMetric(t, c, queuedSeries, 1)
	t0 = time.Now()
	_, err = dial(c)
	wantShed(t, "a connection finding the queue full", err)
	if d := time.Since(t0); d >= maxWait {
		t.Errorf("a connection finding the queue full was closed after %v, not at once", d)
	}
	waitMetric(t, c, shedFullSeries, 1)

	if err := finish(first, "\r\n"); err != nil {
		t.Fatalf("the first connection's request: %v", err)
	}
	d := <-third
	if d.err != nil {
		t.Fatalf("the queued connection, once the slot freed: %v", d.err)
	}
	defer d.conn.Close()
	if err := finish(d.conn, requestHead+"\r\n"); err != nil {
		t.Fatalf("the queued connection's request: %v", err)
	}

	// Both connections are now idle keep-alives: neither holds the slot.
	waitMetric(t, c, activeSeries, 0)
	if _, err := c.Client("127.0.0.31", nil).Get(ctx, keyapi.PathHealthz); err != nil {
		t.Fatalf("a new connection beside two idle ones: %v", err)
	}
	for i, conn := range []*tls.Conn{first, d.conn} {
		if err := finish(conn, requestHead+"\r\n"); err != nil {
			t.Fatalf("a second request on idle connection %d: %v", i+1, err)
		}
	}
	waitMetric(t, c, activeSeries, 0)
	if got := metric(t, c, shedWaitedSeries) + metric(t, c, shedFullSeries); got != 2 {
		t.Errorf("%v connections shed in all, want 2", got)
	}
}

// Shutting down closes the queued connections at once and returns as soon
// as the connection being served is done, not after MaxWait or the
// shutdown's 5 s grace.
func TestAdmissionShutdownClosesQueue(t *testing.T) {
	c := keysystemtest.StartWith(t, keysystemtest.Options{Admission: keyserver.Admission{MaxActive: 1, MaxWait: time.Minute}})
	served := holdSlot(t, c)
	queued := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := dial(c)
			queued <- err
		}()
	}
	waitMetric(t, c, queuedSeries, 2)

	t0 := time.Now()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		c.StopServer()
	}()
	for range 2 {
		select {
		case err := <-queued:
			wantShed(t, "a queued connection at shutdown", err)
		case <-time.After(10 * time.Second):
			t.Fatal("a queued connection still open 10 s after shutdown began")
		}
	}
	// Completing the request ends the connection: http.Server drops a
	// request whose reading ends during shutdown, so no answer is checked.
	finish(served, "\r\n")
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("the keyserver did not stop")
	}
	// Shutdown gives active connections 5 s; returning sooner means it did
	// not wait for anything but the request being served.
	if d := time.Since(t0); d >= 4*time.Second {
		t.Errorf("shutdown took %v", d)
	}
}
