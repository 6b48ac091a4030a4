package usergrant

import (
	"crypto/tls"
	"os"
	"sync"
	"time"

	"homeworld.dev/homeworld/internal/layout"
)

// The supervisor's credentials for user-grant, which its keyclient keeps
// renewed (the supervisor's entries of the credential catalogue,
// internal/credential): the keysystem identity of the account
// user-grant@<supervisor fqdn>, the HTTPS certificate for
// cluster.user-grant-domain from clusterca, and the Kubernetes client
// identity user-grant:<supervisor hostname>.
const (
	identityName = "user-grant"            // KeysDir: keygranting identity
	servingName  = "user-grant"            // SSLDir: HTTPS certificate
	kubeName     = "kubernetes-user-grant" // KeysDir: Kubernetes client
)

// KeytabPath is where the supervisor's service keys are, HTTP/<supervisor
// fqdn> (the key gateway's) and HTTP/<user-grant-domain> (this service's).
const KeytabPath = "/etc/krb5.keytab"

// Files are where user-grant's inputs live on the supervisor.
type Files struct {
	Keytab                    string // the key of HTTP/<user-grant-domain>
	ServingCert, ServingKey   string // HTTPS, from clusterca
	KubeCert, KubeKey         string // user-grant's own Kubernetes identity
	KubeCA                    string // the kubernetes CA: the apiserver's and the users' certificates
	IdentityCert, IdentityKey string // keysystem identity, to have users' certificates signed
	ClusterCA                 string // clusterca, which the keyserver's certificate is from
	Audit                     string
}

// NodeFiles are user-grant's files below a node's root.
func NodeFiles(n layout.Node) Files {
	return Files{
		Keytab:       n.Path(KeytabPath),
		ServingCert:  n.Path(layout.SSLDir + "/" + servingName + ".pem"),
		ServingKey:   n.Path(layout.SSLDir + "/" + servingName + ".key"),
		KubeCert:     n.Path(layout.KeysDir + "/" + kubeName + ".pem"),
		KubeKey:      n.Path(layout.KeysDir + "/" + kubeName + ".key"),
		KubeCA:       n.Path(layout.AuthoritiesDir + "/kubernetes.pem"),
		IdentityCert: n.Path(layout.KeysDir + "/" + identityName + ".pem"),
		IdentityKey:  n.Path(layout.KeysDir + "/" + identityName + ".key"),
		ClusterCA:    n.KeyserverCA(),
		Audit:        n.Path(layout.LogDir + "/user-grant-audit.log"),
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
