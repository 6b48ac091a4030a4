package access

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"

	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/kubeconfig"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/pki"
)

// Files are where one admin TLS credential is written.
type Files struct {
	Key, Cert, CA string
}

// KubeFiles are where an admin's Kubernetes credential goes in folder dir
// (the workspace, for spire access).
func KubeFiles(dir string) Files {
	return Files{filepath.Join(dir, "kube-access.key"), filepath.Join(dir, "kube-access.pem"), filepath.Join(dir, "kube-ca.pem")}
}

// EtcdFiles are where an admin's etcd credential goes in folder dir.
func EtcdFiles(dir string) Files {
	return Files{filepath.Join(dir, "etcd-access.key"), filepath.Join(dir, "etcd-access.pem"), filepath.Join(dir, "etcd-ca.pem")}
}

// KubeconfigPath is the admin kubeconfig WriteKubeconfig writes in dir.
func KubeconfigPath(dir string) string { return filepath.Join(dir, "kubeconfig") }

// WriteTLS obtains a client certificate from api (keyapi.AccessKubernetes
// or keyapi.AccessEtcd) for a key made here, and writes the key (0600),
// the certificate and ca, the authority that verifies the servers. Each file
// is replaced atomically, so a failed run leaves the old credential whole.
func (a *Admin) WriteTLS(ctx context.Context, api keyapi.API, ca *x509.Certificate, f Files) (*x509.Certificate, error) {
	pair, err := a.ClientTLS(ctx, api)
	if err != nil {
		return nil, err
	}
	key, cert := pair.PrivateKey.(crypto.Signer), pair.Leaf
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		return nil, err
	}
	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{f.Key, keyPEM, 0o600}, {f.Cert, pki.EncodeCert(cert), 0o644}, {f.CA, pki.EncodeCert(ca), 0o644}} {
		if err := os.MkdirAll(filepath.Dir(w.path), 0o700); err != nil {
			return nil, err
		}
		if err := renameio.WriteFile(w.path, w.data, w.mode); err != nil {
			return nil, err
		}
	}
	return cert, nil
}

// WriteKubeconfig obtains a short-lived Kubernetes admin certificate
// (kubeCA is the kubernetes authority) and writes it with a kubeconfig that
// uses it into dir: KubeFiles(dir) and KubeconfigPath(dir). The kubeconfig
// names the apiserver every component uses (cluster.conf's APISERVER).
func (a *Admin) WriteKubeconfig(ctx context.Context, dir string, kubeCA *x509.Certificate) (*x509.Certificate, error) {
	f := KubeFiles(dir)
	cert, err := a.WriteTLS(ctx, keyapi.AccessKubernetes, kubeCA, f)
	if err != nil {
		return nil, err
	}
	kc, err := kubeconfig.Render(a.cfg.Cluster.ExternalDomain, a.Principal, kubeconfig.Files{
		Server: nodeconf.ForCluster(a.cfg).APIServer(), CA: f.CA, Cert: f.Cert, Key: f.Key,
	})
	if err != nil {
		return nil, err
	}
	return cert, renameio.WriteFile(KubeconfigPath(dir), kc, 0o600)
}

// ClientTLS obtains a client certificate from api for a key that lives only
// in this process, for a command that needs it once (spire registry push).
func (a *Admin) ClientTLS(ctx context.Context, api keyapi.API) (*tls.Certificate, error) {
	key, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	cert, err := a.TLSCert(ctx, api, key)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}
