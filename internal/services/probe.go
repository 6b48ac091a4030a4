package services

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Probe is how a service's readiness is observed: an HTTP(S) path of one
// of its endpoints that answers 200 when ready, a TCP endpoint that
// accepts connections (no Path), or a unix socket.
type Probe struct {
	Endpoint Endpoint
	Path     string
	Socket   string
}

// Check is a probe resolved for one node.
type Check struct {
	URL    string // answers 200 when ready
	TCP    string // or: accepts connections
	Socket string // or: a unix socket that accepts connections
}

// On resolves p for host h.
func (p Probe) On(h Host) Check {
	switch {
	case p.Socket != "":
		return Check{Socket: p.Socket}
	case p.Endpoint.Scheme == TCP:
		return Check{TCP: h.Addr(p.Endpoint)}
	default:
		return Check{URL: p.Endpoint.URL(h.Node.IP, p.Path)}
	}
}

// String names what the check looks at, for messages.
func (c Check) String() string {
	switch {
	case c.URL != "":
		return c.URL
	case c.TCP != "":
		return "tcp://" + c.TCP
	}
	return "unix://" + c.Socket
}

// probeClient does not verify TLS: a readiness probe tells whether a
// service is up, not whom to trust. Without keep-alives a probe leaves no
// idle connection behind on the service.
var probeClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
	DisableKeepAlives: true,
}}

// Probe runs the check once: nil when the service is ready, otherwise what
// it answered (status and the start of the body) or why it did not.
func (c Check) Probe(ctx context.Context) error {
	if c.URL == "" {
		network, addr := "unix", c.Socket
		if c.TCP != "" {
			network, addr = "tcp", c.TCP
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return err
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
