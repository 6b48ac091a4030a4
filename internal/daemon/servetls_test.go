package daemon

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/pki"
)

// ServeTLS reports the bound address before serving, answers over TLS
// with the given certificate, and returns nil once stopped; a taken
// address is an error naming it.
func TestServeTLS(t *testing.T) {
	key, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"daemon.test"}, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}}
	ctx, cancel := context.WithCancel(context.Background())
	bound := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() {
		served <- ServeTLS(ctx, "127.0.0.1:0", cfg, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }),
			func(a net.Addr) { bound <- a })
	}()
	addr := (<-bound).String()
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "daemon.test"}}}
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Errorf("body %q", body)
	}
	if err := ServeTLS(context.Background(), addr, cfg, http.NotFoundHandler(), func(net.Addr) {}); err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("ServeTLS on a taken address = %v", err)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("ServeTLS = %v after the stop", err)
	}
}
