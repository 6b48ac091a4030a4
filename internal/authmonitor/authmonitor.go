// Package authmonitor proves, continuously, that the keysystem works end to
// end: it fetches an authority and the static configuration from the
// keyserver, obtains a short-lived SSH certificate with the supervisor's
// identity, and logs in to every node with it, accepting only host
// certificates from the ssh-host authority. Each step is a gauge with the
// original Homeworld metric names. cmd/auth-monitor runs it on the
// supervisor.
package authmonitor

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"reflect"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/services"
)

// Monitor runs the checks of one supervisor.
type Monitor struct {
	cfg    *config.Config
	node   layout.Node
	client *keyapi.Client
	pool   *x509.CertPool
	logf   func(string, ...any)
	// Gateway is the key gateway's address (where the cluster has a
	// Kerberos realm); default: the supervisor's.
	Gateway string

	authority, static, grant, admin, gateway prometheus.Gauge
	access                                   *prometheus.GaugeVec
	Registry                                 *prometheus.Registry
}

// New prepares a monitor from the supervisor's files.
func New(node layout.Node, keyserver string, logf func(string, ...any)) (*Monitor, error) {
	cfg, _, err := config.Load(node.SetupYAML())
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(node.KeyserverCA())
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	m := &Monitor{cfg: cfg, node: node, pool: pool, logf: logf, Registry: prometheus.NewRegistry(),
		Gateway: services.KeyGateway.Addr(cfg.Supervisor().IP)}
	m.client, err = keyapi.NewClient(keyapi.ClientConfig{
		Address: keyserver, ServerName: cfg.FQDN(cfg.Supervisor()), RootCAs: pool,
		ClientCert: m.identity, Timeout: 10 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		m.Registry.MustRegister(g)
		return g
	}
	m.authority = gauge("keysystem_fetch_authority_check", "1 if the ssh-host authority could be fetched from the keyserver.")
	m.static = gauge("keysystem_fetch_static_check", "1 if the keyserver's cluster.conf matches setup.yaml.")
	m.grant = gauge("keysystem_ssh_grant_check", "1 if the keyserver granted an SSH certificate.")
	m.admin = gauge("keysystem_admin_path_check", "1 if acting for another account (the Kerberos gateway's path, here for a probe account) yields its SSH certificate.")
	m.gateway = gauge("keysystem_gateway_auth_check", "1 if the supervisor's host principal authenticated to the Kerberos key gateway with a ticket (0 where Kerberos is disabled).")
	m.access = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "keysystem_ssh_access_check",
		Help: "1 if an SSH login with a keysystem certificate to the node succeeded, verifying its host certificate.",
	}, []string{"server", "node"})
	m.Registry.MustRegister(m.access)
	return m, nil
}

// identity is auth-monitor's own certificate (not the supervisor's node
// identity), read each time so renewals are picked up.
func (m *Monitor) identity() *tls.Certificate {
	c := credential.AuthMonitor
	pair, err := tls.LoadX509KeyPair(m.node.Path(c.Path), m.node.Path(c.KeyPath))
	if err != nil {
		return nil
	}
	return &pair
}

// checkStatic compares the cluster.conf the keyserver serves with what
// setup.yaml says, as values: formatting is the renderer's business.
func (m *Monitor) checkStatic(ctx context.Context) error {
	data, err := m.client.Static(ctx, nodeconf.ClusterFile)
	if err != nil {
		return err
	}
	served, err := nodeconf.ParseCluster("the keyserver's "+nodeconf.ClusterFile, data)
	if err != nil {
		return err
	}
	want := nodeconf.ForCluster(m.cfg)
	want.Virtual = served.Virtual // the keyserver's installer says this, not setup.yaml
	if !reflect.DeepEqual(served, want) {
		return fmt.Errorf("the keyserver serves %+v, setup.yaml says %+v", served, want)
	}
	return nil
}

// Run checks every interval until ctx ends.
func (m *Monitor) Run(ctx context.Context, interval time.Duration) {
	for {
		m.Cycle(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// Cycle runs every check once.
func (m *Monitor) Cycle(ctx context.Context) {
	hostCAData, err := m.client.Pub(ctx, keyapi.SSHHost)
	var hostCA ssh.PublicKey
	if err == nil {
		hostCA, _, _, _, err = ssh.ParseAuthorizedKey(hostCAData)
	}
	if err != nil {
		m.logf("auth-monitor: fetching the ssh-host authority: %v", err)
		m.authority.Set(0)
		m.static.Set(0)
		m.grant.Set(0)
		m.admin.Set(0)
		m.gateway.Set(0)
		m.access.Reset()
		return
	}
	m.authority.Set(1)
	err = m.checkStatic(ctx)
	if err != nil {
		m.logf("auth-monitor: cluster.conf: %v", err)
	}
	m.static.Set(b2f(err == nil))

	m.admin.Set(b2f(m.adminPath(ctx) == nil))
	if m.cfg.Cluster.KerberosRealm != "" {
		err := m.checkGateway(ctx)
		if err != nil {
			m.logf("auth-monitor: key gateway: %v", err)
		}
		m.gateway.Set(b2f(err == nil))
	}
	signer, err := m.sshCertificate(ctx)
	if err != nil {
		m.logf("auth-monitor: SSH grant: %v", err)
		m.grant.Set(0)
		for _, n := range m.cfg.Nodes {
			m.access.WithLabelValues(m.cfg.FQDN(n), n.Hostname).Set(0)
		}
		return
	}
	m.grant.Set(1)
	for _, n := range m.cfg.Nodes {
		err := m.login(ctx, n, signer, hostCA)
		if err != nil {
			m.logf("auth-monitor: ssh %s: %v", n.Hostname, err)
		}
		m.access.WithLabelValues(m.cfg.FQDN(n), n.Hostname).Set(b2f(err == nil))
	}
}

// adminPath goes the gateway's way (impersonation, then an SSH grant of
// the impersonated account) as the probe account, whose certificate logs in
// nowhere: the monitor itself cannot act for a root admin.
func (m *Monitor) adminPath(ctx context.Context) error {
	key, err := pki.NewSSHKey()
	if err != nil {
		return err
	}
	pub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		return err
	}
	res, err := m.client.Call(ctx, "",
		keyapi.Request{API: keyapi.ImpersonateAdmin, Body: policy.MonitorProbe},
		keyapi.Request{API: keyapi.AccessSSH, Body: string(ssh.MarshalAuthorizedKey(pub))})
	if err != nil {
		m.logf("auth-monitor: admin path: %v", err)
		return err
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(res[1])); err != nil {
		return err
	}
	return nil
}

// sshCertificate makes a fresh key and has the keyserver certify it.
func (m *Monitor) sshCertificate(ctx context.Context) (ssh.Signer, error) {
	key, err := pki.NewSSHKey()
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromSigner(key)
	if err != nil {
		return nil, err
	}
	res, err := m.client.Call1(ctx, "", keyapi.MonitorSSH, string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	if err != nil {
		return nil, err
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(res))
	if err != nil {
		return nil, err
	}
	cert, ok := k.(*ssh.Certificate)
	if !ok {
		return nil, fmt.Errorf("keyserver returned no certificate")
	}
	return ssh.NewCertSigner(cert, signer)
}

const probe = "bidirectionality test"

// login runs one command over SSH as root, trusting only host certificates
// from the ssh-host authority for the node's name.
func (m *Monitor) login(ctx context.Context, n config.Node, signer ssh.Signer, hostCA ssh.PublicKey) error {
	checker := &ssh.CertChecker{
		IsHostAuthority: func(auth ssh.PublicKey, _ string) bool {
			return bytes.Equal(auth.Marshal(), hostCA.Marshal())
		},
	}
	conf := &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: checker.CheckHostKey,
		Timeout:         10 * time.Second,
	}
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", services.SSH.Addr(n.IP))
	if err != nil {
		return err
	}
	// The host certificate names the node by FQDN, short name and address;
	// check it against the FQDN.
	c, chans, reqs, err := ssh.NewClientConn(conn, services.SSH.Addr(m.cfg.FQDN(n)), conf)
	if err != nil {
		conn.Close()
		return err
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return err
	}
	defer sess.Close()
	out, err := sess.Output("echo '" + probe + "'")
	if err != nil {
		return err
	}
	if string(out) != probe+"\n" {
		return fmt.Errorf("unexpected output %q", out)
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
