// Package keysystemtest runs a real keyserver for tests: a cluster whose
// nodes have loopback addresses (127.0.0.0/24, all routed to lo, so a client
// can call "from" any node by choosing its source address), authorities
// generated fresh, and the server on the supervisor's address over real TLS.
// Only tests import it.
package keysystemtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/disaster"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keyserver"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/testutil"
)

// Setup is the test cluster: 1 supervisor, 3 masters, 2 workers, one admin.
const Setup = `cluster:
  external-domain: test.homeworld.example
  internal-domain: test.internal
  etcd-token: test-etcd
addresses:
  cidr-nodes: 127.0.0.0/24
  cidr-pods: 172.18.0.0/16
  cidr-services: 172.28.0.0/16
  service-api: 172.28.0.1
  service-dns: 172.28.0.2
root-admins: [admin]
nodes:
  - {hostname: supervisor, ip: 127.0.0.10, kind: supervisor}
  - {hostname: master1, ip: 127.0.0.21, kind: master}
  - {hostname: master2, ip: 127.0.0.22, kind: master}
  - {hostname: master3, ip: 127.0.0.23, kind: master}
  - {hostname: worker1, ip: 127.0.0.31, kind: worker}
  - {hostname: worker2, ip: 127.0.0.32, kind: worker}
`

// KerberosSetup is Setup with a Kerberos realm, krb5test's default: the
// cluster of the key gateway's tests.
var KerberosSetup = strings.Replace(Setup, "  etcd-token: test-etcd\n", "  etcd-token: test-etcd\n  kerberos-realm: HOMEWORLD.TEST\n", 1)

// Cluster is a running test keyserver and what it was made from.
type Cluster struct {
	t           testing.TB
	SetupYAML   string
	Config      *config.Config
	Authorities *authority.Set
	Supervisor  layout.Node // the supervisor's files
	Lifetimes   policy.Lifetimes
	Addr        string // host:port the keyserver listens on
	now         func() time.Time
	server      *keyserver.Server // nil when the server is a child process
	child       *child            // the server's process, with Options.Process
	process     Process
	admission   keyserver.Admission
	cancel      context.CancelFunc
	done        chan error
}

// Start brings up a keyserver with the given lifetimes (zero: defaults).
func Start(t testing.TB, l policy.Lifetimes) *Cluster {
	t.Helper()
	return StartAt(t, l, time.Now)
}

// StartAt is Start with the cluster's clock: the authorities, the
// keyserver's tokens, certificates, audit log and TLS handshakes, and the
// identities and clients the Cluster makes go by now (a clock.Fake's Now,
// to test expiry without sleeping, however far the clock is moved).
func StartAt(t testing.TB, l policy.Lifetimes, now func() time.Time) *Cluster {
	t.Helper()
	return StartWith(t, Options{Lifetimes: l, Now: now})
}

// Options shape a test cluster; zero values are Start's.
type Options struct {
	Setup     string // default Setup
	Lifetimes policy.Lifetimes
	Now       func() time.Time
	// Process, if its Enable is set, runs the keyserver in a child process
	// rather than in the test's, so that its CPU time can be told apart
	// (Cluster.ServerCPU). It takes the default clock.
	Process Process
	// Admission bounds the connections the keyserver works on at once;
	// off unless its MaxActive is positive, as in the keyserver.
	Admission keyserver.Admission
}

// StartWith brings up a keyserver as o says.
func StartWith(t testing.TB, o Options) *Cluster {
	t.Helper()
	l, now, setup := o.Lifetimes, o.Now, o.Setup
	if setup == "" {
		setup = Setup
	}
	if now == nil {
		now = time.Now
	} else if o.Process.Enable {
		t.Fatal("keysystemtest: a keyserver in a child process keeps the system clock")
	}
	if l == (policy.Lifetimes{}) {
		l = policy.DefaultLifetimes
	}
	cfg, _, err := config.Parse("setup.yaml", []byte(setup))
	if err != nil {
		t.Fatal(err)
	}
	set, err := authority.Generate("Homeworld test", now())
	if err != nil {
		t.Fatal(err)
	}
	sup := layout.Node{Root: filepath.Join(t.TempDir(), "supervisor")}
	if err := keyserver.Install(sup, []byte(setup), set); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, SetupYAML: setup, Config: cfg, Authorities: set, Supervisor: sup, Lifetimes: l, now: now, process: o.Process, admission: o.Admission}
	// The first listener takes port 0 and the server keeps it: a port
	// chosen beforehand could be taken before the server binds it.
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Supervisor().IP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	c.Addr = ln.Addr().String()
	c.serve(ln)
	t.Cleanup(c.StopServer)
	return c
}

// StartServer restarts the keyserver from the supervisor's files, on the
// same address.
func (c *Cluster) StartServer() {
	c.t.Helper()
	var l net.Listener
	var err error
	// The previous server may still be releasing the port.
	testutil.WaitFor(c.t, 10*time.Second, "the keyserver's address "+c.Addr+" to be free", func() (bool, error) {
		l, err = net.Listen("tcp", c.Addr)
		return err == nil, err
	})
	c.serve(l)
}

// serve runs a keyserver loaded from the supervisor's files on l, in this
// process or in a child.
func (c *Cluster) serve(l net.Listener) {
	c.t.Helper()
	if c.process.Enable {
		c.spawn(l)
		return
	}
	srv, _, err := keyserver.Load(c.Supervisor, c.Lifetimes, keyserver.Options{Logf: c.t.Logf, Now: c.now, Admission: c.admission})
	if err != nil {
		l.Close()
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.server, c.cancel, c.done = srv, cancel, make(chan error, 1)
	go func() { c.done <- srv.Serve(ctx, l) }()
}

// StopServer stops the keyserver and waits for it to finish.
func (c *Cluster) StopServer() {
	if c.child != nil {
		c.stopChild()
		return
	}
	if c.cancel == nil {
		return
	}
	c.cancel()
	if err := <-c.done; err != nil {
		c.t.Errorf("keyserver: %v", err)
	}
	c.cancel = nil
}

// Server is the running keyserver; nil when it runs in a child process.
func (c *Cluster) Server() *keyserver.Server { return c.server }

// Authority is the named authority of set; a test without it cannot go on.
func Authority(t testing.TB, set *authority.Set, name authority.Name) *authority.Authority {
	t.Helper()
	a, err := set.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Authority is the cluster's named authority.
func (c *Cluster) Authority(name authority.Name) *authority.Authority {
	c.t.Helper()
	return Authority(c.t, c.Authorities, name)
}

// ClusterCA is the pool clients trust the keyserver with.
func (c *Cluster) ClusterCA() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(c.Authority(keyapi.ClusterCA).Cert)
	return pool
}

// ClusterCAPEM is clusterca's certificate as PEM.
func (c *Cluster) ClusterCAPEM() []byte {
	return pki.EncodeCert(c.Authority(keyapi.ClusterCA).Cert)
}

// Client returns a client calling from sourceIP, presenting cert if non-nil.
func (c *Cluster) Client(sourceIP string, cert *tls.Certificate) *keyapi.Client {
	c.t.Helper()
	cfg := keyapi.ClientConfig{
		Address: c.Addr, ServerName: c.Config.FQDN(c.Config.Supervisor()), RootCAs: c.ClusterCA(),
		LocalAddr: sourceIP, Timeout: 10 * time.Second, Time: c.now,
	}
	if cert != nil {
		cfg.ClientCert = func() *tls.Certificate { return cert }
	}
	cl, err := keyapi.NewClient(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

// Identity mints a keygranting certificate for principal directly with the
// authority, as if the principal had bootstrapped already.
func (c *Cluster) Identity(principal string) *tls.Certificate {
	c.t.Helper()
	ca := c.Authority(keyapi.Keygranting)
	key, err := pki.NewKey()
	if err != nil {
		c.t.Fatal(err)
	}
	cert, err := pki.IssueTLS(ca.Signer, ca.Cert, key.Public(), pki.TLSGrant{CommonName: principal, Usage: pki.ClientAuth, Lifetime: time.Hour}, c.now())
	if err != nil {
		c.t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// NodeClient is a client for a node with an identity, calling from its IP.
func (c *Cluster) NodeClient(hostname string) *keyapi.Client {
	c.t.Helper()
	n, ok := c.Config.FindNode(hostname)
	if !ok {
		c.t.Fatalf("no node %s", hostname)
	}
	return c.Client(n.IP, c.Identity(c.Config.FQDN(n)))
}

// SupervisorClient is a client for an account of a service on the
// supervisor (auth-monitor, the key gateway, user-grant), with an identity
// for principal, calling from the supervisor's address.
func (c *Cluster) SupervisorClient(principal string) *keyapi.Client {
	c.t.Helper()
	return c.Client(c.Config.Supervisor().IP, c.Identity(principal))
}

// GatewayClient is a client for the Kerberos key gateway's account.
func (c *Cluster) GatewayClient() *keyapi.Client {
	c.t.Helper()
	return c.SupervisorClient(policy.GatewayPrincipal(c.Config.FQDN(c.Config.Supervisor())))
}

// AdminClient is a client for the root admin, from an address of no node.
func (c *Cluster) AdminClient() *keyapi.Client {
	return c.Client("127.0.0.200", c.Identity("admin"))
}

// Admit issues an admission token for hostname as the admin.
func (c *Cluster) Admit(hostname string) string {
	c.t.Helper()
	n, ok := c.Config.FindNode(hostname)
	if !ok {
		c.t.Fatalf("no node %s", hostname)
	}
	tok, err := c.AdminClient().Call1(context.Background(), "", keyapi.Admit, c.Config.FQDN(n))
	if err != nil {
		c.t.Fatalf("admit %s: %v", hostname, err)
	}
	return tok
}

// AuditLog returns the audit log's content.
func (c *Cluster) AuditLog() string {
	data, err := os.ReadFile(c.Supervisor.KeyserverAuditLog())
	if err != nil {
		c.t.Fatal(err)
	}
	return string(data)
}

// String names the cluster in failure messages.
func (c *Cluster) String() string { return fmt.Sprintf("test keyserver at %s", c.Addr) }

// Workspace writes an administrator's workspace for this cluster into dir:
// setup.yaml and the authorities sealed with key.
func (c *Cluster) Workspace(dir string, key *disaster.Key) {
	c.t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, config.FileName), []byte(c.SetupYAML), 0o644); err != nil {
		c.t.Fatal(err)
	}
	if err := authority.NewStore(dir).Create(context.Background(), c.Authorities, key, false); err != nil {
		c.t.Fatal(err)
	}
}

// Impostor serves HTTPS on the supervisor's address (another port) with a
// certificate from clusterca that names the supervisor, as the registry's
// certificate once did, but is not the keyserver's. It answers everything
// with 200. Keysystem clients must refuse it.
func (c *Cluster) Impostor() string {
	c.t.Helper()
	sup := c.Config.Supervisor()
	ca := c.Authority(keyapi.ClusterCA)
	key, err := pki.NewKey()
	if err != nil {
		c.t.Fatal(err)
	}
	cert, err := pki.IssueTLS(ca.Signer, ca.Cert, key.Public(), pki.TLSGrant{
		CommonName: "homeworld-registry-" + sup.Hostname, Names: []string{policy.RegistryName, c.Config.FQDN(sup), sup.IP},
		Usage: pki.ServerAuth | pki.ClientAuth, Lifetime: time.Hour,
	}, c.now())
	if err != nil {
		c.t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(sup.IP, "0"))
	if err != nil {
		c.t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"results":["impostor"]}`)) }),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}},
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	go srv.ServeTLS(l, "", "")
	c.t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}
