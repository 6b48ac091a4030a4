package pullmonitor_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// testRegistry is go-containerregistry's implementation of the OCI
// distribution API, a real registry kept in memory, served over HTTPS on
// 127.0.0.1 with a certificate from a throwaway CA, as the supervisor's
// registry is served with one from clusterca. It stands in for that
// registry (distribution), which the end-to-end tests exercise; here what
// is under test is the runtime's pull path and the monitor. It can serve
// chosen blobs corrupted, to make pulls fail the runtime's digest check.
type testRegistry struct {
	Host   string // 127.0.0.1:PORT
	CAFile string // the CA's certificate, PEM

	inner     http.Handler
	transport http.RoundTripper

	mu      sync.Mutex
	corrupt map[string]bool // blob digests served with a byte flipped
	served  map[string]int  // blob GETs answered, by digest
}

func startRegistry(t *testing.T, dir string) *testRegistry {
	t.Helper()
	caCert, cert := throwawayPKI(t)
	r := &testRegistry{
		CAFile:  filepath.Join(dir, "registry-ca.pem"),
		inner:   registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		corrupt: map[string]bool{},
		served:  map[string]int{},
	}
	if err := os.WriteFile(r.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(r)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	r.Host = srv.Listener.Addr().String()
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	r.transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	return r
}

// throwawayPKI makes a CA and, signed by it, a server certificate for
// 127.0.0.1.
func throwawayPKI(t *testing.T) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pullmonitor test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return caCert, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Push uploads img as repo:tag, through the distribution API as a client
// would (monolithic blob uploads, then the manifest), and returns its
// manifest digest.
func (r *testRegistry) Push(t *testing.T, repo, tag string, img v1.Image) v1.Hash {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		r.put(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), "application/octet-stream", data)
	}
	cd, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	r.put(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+cd.String(), "application/octet-stream", cfg)
	manifest, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	r.put(t, http.MethodPut, "/v2/"+repo+"/manifests/"+tag, string(mt), manifest)
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// put sends body to the registry and expects 201 Created.
func (r *testRegistry) put(t *testing.T, method, path, contentType string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "https://"+r.Host+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := (&http.Client{Transport: r.transport}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, msg)
	}
}

// Corrupt makes the registry serve blob d with its first byte flipped: the
// same length, another digest.
func (r *testRegistry) Corrupt(d v1.Hash) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.corrupt[d.String()] = true
}

// Served is how many times blob d has been fetched (corrupted or not).
func (r *testRegistry) Served(d v1.Hash) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.served[d.String()]
}

func (r *testRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/") {
		d := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
		r.mu.Lock()
		r.served[d]++
		if r.corrupt[d] {
			w = &byteFlipper{ResponseWriter: w}
		}
		r.mu.Unlock()
	}
	r.inner.ServeHTTP(w, req)
}

// byteFlipper flips the first byte of a response body.
type byteFlipper struct {
	http.ResponseWriter
	done bool
}

func (f *byteFlipper) Write(b []byte) (int, error) {
	if !f.done && len(b) > 0 {
		b = bytes.Clone(b)
		b[0] ^= 0xff
		f.done = true
	}
	return f.ResponseWriter.Write(b)
}
