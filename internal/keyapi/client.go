package keyapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ClientConfig says how to reach and trust a keyserver.
type ClientConfig struct {
	Address    string         // host:port to dial
	ServerName string         // the name the keyserver's certificate must carry
	RootCAs    *x509.CertPool // normally just the clusterca certificate
	// ClientCert returns the identity to present, or nil for none. It is
	// called per handshake, so a renewed certificate is picked up at once.
	ClientCert func() *tls.Certificate
	// LocalAddr, if set, is the source IP to call from.
	LocalAddr string
	Timeout   time.Duration // per request; default 30 s
	// ServerURI is the mark the server's certificate must carry: default
	// the keyserver's (ServerURI); the key gateway's clients pass GatewayURI.
	ServerURI string
	// Authorize, if set, is called on every request just before it is sent,
	// to add what authenticates it (an Authorization: Negotiate header for
	// the key gateway); an error aborts the call.
	Authorize func(*http.Request) error
	// Time is the clock the server's certificate is checked by in the
	// handshake; default time.Now. A simulation passes its fake clock, so
	// certificates issued on a simulated day are valid on that day.
	Time func() time.Time
}

// ErrUnreachable marks a call that got no answer: the connection failed, was
// closed (a busy keyserver sheds connections before their handshake) or
// timed out.
var ErrUnreachable = errors.New("keyserver unreachable")

// Client talks to one keyserver.
type Client struct {
	base      string
	authorize func(*http.Request) error
	http      *http.Client
}

// NewClient returns a client for cfg.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Address == "" || cfg.ServerName == "" || cfg.RootCAs == nil {
		return nil, errors.New("keyapi: address, server name and root CAs are required")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.ServerURI == "" {
		cfg.ServerURI = ServerURI
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	if cfg.LocalAddr != "" {
		ip := net.ParseIP(cfg.LocalAddr)
		if ip == nil {
			return nil, fmt.Errorf("keyapi: local address %q is not an IP", cfg.LocalAddr)
		}
		dialer.LocalAddr = &net.TCPAddr{IP: ip}
	}
	tlsConfig := &tls.Config{
		MinVersion:       tls.VersionTLS13,
		ServerName:       cfg.ServerName,
		RootCAs:          cfg.RootCAs,
		Time:             cfg.Time,
		VerifyConnection: func(cs tls.ConnectionState) error { return verifyMark(cs, cfg.ServerURI) },
	}
	if cfg.ClientCert != nil {
		tlsConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if c := cfg.ClientCert(); c != nil {
				return c, nil
			}
			return &tls.Certificate{}, nil // no certificate: send none
		}
	}
	transport := &http.Transport{
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     30 * time.Second,
		MaxIdleConnsPerHost: 4,
		DisableCompression:  true,
		ForceAttemptHTTP2:   true,
	}
	return &Client{
		base:      "https://" + cfg.Address,
		authorize: cfg.Authorize,
		http:      &http.Client{Transport: transport, Timeout: cfg.Timeout},
	}, nil
}

// verifyMark runs after the usual chain and name checks: the leaf must also
// carry the mark of the server the client expects.
func verifyMark(cs tls.ConnectionState, uri string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the server presented no certificate")
	}
	if leaf := cs.PeerCertificates[0]; !hasMark(leaf, uri) {
		return fmt.Errorf("the server's certificate (%q, serial %x) is from the cluster CA but is not %s: it lacks %s; refusing to talk to it", leaf.Subject.CommonName, leaf.SerialNumber, markOwner(uri), uri)
	}
	return nil
}

func markOwner(uri string) string {
	switch uri {
	case ServerURI:
		return "the keyserver's"
	case GatewayURI:
		return "the key gateway's"
	}
	return "the expected server's"
}

// IsServerCert reports whether cert carries the keyserver's mark.
func IsServerCert(cert *x509.Certificate) bool { return hasMark(cert, ServerURI) }

// hasMark reports whether cert carries the URI name uri.
func hasMark(cert *x509.Certificate, uri string) bool {
	for _, u := range cert.URIs {
		if u.String() == uri {
			return true
		}
	}
	return false
}

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Call runs a batch. With a non-empty token the caller authenticates with it
// instead of its certificate.
func (c *Client) Call(ctx context.Context, token string, reqs ...Request) ([]string, error) {
	body, err := json.Marshal(Batch{Requests: reqs})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+PathAPI, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set(TokenHeader, token)
	}
	data, err := c.do(req)
	if err != nil {
		return nil, err
	}
	var res Results
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("keyserver: malformed response: %w", err)
	}
	if len(res.Results) != len(reqs) {
		return nil, fmt.Errorf("keyserver: %d results for %d requests", len(res.Results), len(reqs))
	}
	return res.Results, nil
}

// Call1 runs a batch of one operation and returns its result.
func (c *Client) Call1(ctx context.Context, token string, api API, body string) (string, error) {
	res, err := c.Call(ctx, token, Request{API: api, Body: body})
	if err != nil {
		return "", err
	}
	return res[0], nil
}

// Pub fetches an authority's public half.
func (c *Client) Pub(ctx context.Context, authority Authority) ([]byte, error) {
	return c.Get(ctx, PathPub+string(authority))
}

// Static fetches a cluster-wide static file.
func (c *Client) Static(ctx context.Context, name string) ([]byte, error) {
	return c.Get(ctx, PathStatic+name)
}

// Get fetches any path the keyserver serves without a batch (spire query
// keyurl); a refusal is an *Error with the status.
func (c *Client) Get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	return c.do(req)
}

func (c *Client) do(req *http.Request) ([]byte, error) {
	if c.authorize != nil {
		if err := c.authorize(req); err != nil {
			return nil, fmt.Errorf("authorizing the request to %s: %w", req.URL.Path, err)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("keyserver: reading response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.Message = string(bytes.TrimSpace(data))
		}
		return nil, e
	}
	return data, nil
}
