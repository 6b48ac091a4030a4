package keygateway

import (
	"crypto/tls"
	"os"
	"sync"
	"time"

	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/layout"
)

// Files are where the gateway's inputs live on the supervisor.
type Files struct {
	Keytab       string // the service key of HTTP/<supervisor fqdn>
	IdentityCert string // keygranting certificate of the gateway's account
	IdentityKey  string
	ServingCert  string // clusterca certificate marked keyapi.GatewayURI
	ServingKey   string
	ClusterCA    string
	Audit        string
}

// KeytabPath is where spire setup keygateway installs the supervisor's
// keytab (the path MIT's tools use by default).
const KeytabPath = "/etc/krb5.keytab"

// NodeFiles are the gateway's files below a node's root.
func NodeFiles(n layout.Node) Files {
	return Files{
		Keytab:       n.Path(KeytabPath),
		IdentityCert: n.Path(credential.Keygateway.Path),
		IdentityKey:  n.Path(credential.Keygateway.KeyPath),
		ServingCert:  n.Path(credential.KeygatewayHTTPS.Path),
		ServingKey:   n.Path(credential.KeygatewayHTTPS.KeyPath),
		ClusterCA:    n.KeyserverCA(),
		Audit:        n.Path(layout.LogDir + "/keygateway-audit.log"),
	}
}

// keyPair is a certificate and key on disk, reread when the keyclient
// renews them.
type keyPair struct {
	cert, key string

	mu    sync.Mutex
	cur   *tls.Certificate
	mtime time.Time
}

func (p *keyPair) get() (*tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := os.Stat(p.cert)
	if err != nil {
		return nil, err
	}
	if p.cur != nil && st.ModTime().Equal(p.mtime) {
		return p.cur, nil
	}
	pair, err := tls.LoadX509KeyPair(p.cert, p.key)
	if err != nil {
		return nil, err
	}
	p.cur, p.mtime = &pair, st.ModTime()
	return p.cur, nil
}
