// Package certfile reads TLS material from files: a certificate and key
// that the keyclient renews (each Get rereads them when the certificate
// file changed, so a service picks up its renewed credential without a
// restart), and CA pools. Homeworld's services and monitors import it.
package certfile

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// Pair is a certificate file and its key file.
type Pair struct {
	Cert, Key string

	mu    sync.Mutex
	cur   *tls.Certificate
	mtime time.Time
}

// Get returns the pair as it is on disk now.
func (p *Pair) Get() (*tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := os.Stat(p.Cert)
	if err != nil {
		return nil, err
	}
	if p.cur != nil && st.ModTime().Equal(p.mtime) {
		return p.cur, nil
	}
	pair, err := tls.LoadX509KeyPair(p.Cert, p.Key)
	if err != nil {
		return nil, err
	}
	p.cur, p.mtime = &pair, st.ModTime()
	return p.cur, nil
}

// ClientCert adapts p to keyapi.ClientConfig.ClientCert: no certificate
// (logged) while the files cannot be read.
func (p *Pair) ClientCert(logf func(string, ...any)) func() *tls.Certificate {
	return func() *tls.Certificate {
		c, err := p.Get()
		if err != nil {
			logf("identity %s: %v", p.Cert, err)
			return nil
		}
		return c
	}
}

// Pool reads a PEM file of CA certificates.
func Pool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no certificate", path)
	}
	return pool, nil
}
