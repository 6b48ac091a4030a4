package keyclient_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/keyclient"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/policy"
)

// node is a keyclient under test with its own root folder.
type node struct {
	t      *testing.T
	name   string
	layout layout.Node
	agent  *keyclient.Agent
	cancel context.CancelFunc
	done   chan error
	logs   *logBuffer
}

type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuffer) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// install prepares a node's root as the installer would: the keyserver's
// name, the cluster CA and an admission token.
func install(t *testing.T, c *keysystemtest.Cluster, hostname string, withToken bool) layout.Node {
	t.Helper()
	n := layout.Node{Root: filepath.Join(t.TempDir(), hostname)}
	write := func(path string, data []byte, mode os.FileMode) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(n.KeyserverDomain(), []byte(c.Config.FQDN(c.Config.Supervisor())), 0o644)
	write(n.KeyserverCA(), c.ClusterCAPEM(), 0o644)
	if withToken {
		write(n.BootstrapToken(), []byte(c.Admit(hostname)+"\n"), 0o600)
	}
	return n
}

func start(t *testing.T, c *keysystemtest.Cluster, hostname string, l layout.Node, opts keyclient.Options) *node {
	t.Helper()
	cfgNode, _ := c.Config.FindNode(hostname)
	opts.Node, opts.LocalAddr = l, cfgNode.IP
	if opts.Keyserver == "" {
		opts.Keyserver = c.Addr
	}
	logs := &logBuffer{}
	opts.Logf = logs.logf
	if opts.RetryMin == 0 {
		opts.RetryMin, opts.RetryMax = 50*time.Millisecond, 300*time.Millisecond
	}
	a, err := keyclient.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	nd := &node{t: t, name: hostname, layout: l, agent: a, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { nd.done <- a.Run(ctx) }()
	t.Cleanup(nd.stop)
	return nd
}

func (n *node) stop() {
	if n.cancel != nil {
		n.cancel()
		<-n.done
		n.cancel = nil
	}
}

func (n *node) waitReady(d time.Duration) {
	n.t.Helper()
	select {
	case <-n.agent.Ready():
	case <-time.After(d):
		n.t.Fatalf("%s not ready after %v; missing: %v\nlog:\n%s", n.name, d, n.agent.Missing(), n.logs)
	}
}

// files lists the regular files under the node's root, as production paths.
func (n *node) files() []string {
	var out []string
	filepath.WalkDir(n.layout.Root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(n.layout.Root, path)
			out = append(out, "/"+rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// expectedFiles is what a node of kind k holds once converged.
func expectedFiles(k config.Kind) []string {
	out := []string{
		layout.ConfigDir + "/keyserver.domain", layout.KeyclientDir + "/keyservertls.pem",
		layout.SSHDir + "/ssh_host_ed25519_key.pub", layout.SSHDir + "/sshd_config.d/homeworld.conf",
	}
	for _, c := range credential.For(k) {
		out = append(out, c.Path)
		if c.KeyPath != "" {
			out = append(out, c.KeyPath)
		}
	}
	sort.Strings(out)
	return out
}

func TestEachKindGetsExactlyItsCredentials(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	for _, host := range []string{"supervisor", "master1", "worker1"} {
		t.Run(host, func(t *testing.T) {
			n := start(t, c, host, install(t, c, host, true), keyclient.Options{})
			n.waitReady(20 * time.Second)
			cfgNode, _ := c.Config.FindNode(host)
			want := expectedFiles(cfgNode.Kind)
			if got := n.files(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s files:\n%s\nwant:\n%s", host, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for _, cred := range credential.For(cfgNode.Kind) {
				if cred.KeyPath == "" {
					continue
				}
				st, err := os.Stat(n.layout.Path(cred.KeyPath))
				if err != nil || st.Mode().Perm() != 0o600 {
					t.Errorf("%s: key mode %v, %v", cred.KeyPath, st.Mode().Perm(), err)
				}
			}
			if local, err := nodeconf.LoadLocal(n.layout.LocalConf()); err != nil || local != nodeconf.ForNode(c.Config, cfgNode) {
				t.Errorf("local.conf: %+v, %v", local, err)
			}
			if _, err := nodeconf.LoadCluster(n.layout.ClusterConf()); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestWithoutTokenBlocksWithClearReason(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	l := install(t, c, "worker2", false)
	n := start(t, c, "worker2", l, keyclient.Options{MaxSleep: 50 * time.Millisecond})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(strings.Join(n.agent.Missing(), ";"), "no admission token") {
		if time.Now().After(deadline) {
			t.Fatalf("missing = %v", n.agent.Missing())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The token arriving later is picked up.
	if err := os.WriteFile(l.BootstrapToken(), []byte(c.Admit("worker2")), 0o600); err != nil {
		t.Fatal(err)
	}
	n.waitReady(20 * time.Second)
}

func TestMistypedTokenIsNotSent(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	l := install(t, c, "worker1", true)
	tok, _ := os.ReadFile(l.BootstrapToken())
	typo := []byte(strings.TrimSpace(string(tok)))
	// A different last character: the body is intact, so only the checksum
	// can object.
	if last := len(typo) - 1; typo[last] == 'A' {
		typo[last] = 'B'
	} else {
		typo[last] = 'A'
	}
	os.WriteFile(l.BootstrapToken(), typo, 0o600)
	n := start(t, c, "worker1", l, keyclient.Options{})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(n.logs.String(), "mistyped") {
		if time.Now().After(deadline) {
			t.Fatalf("no typo message; log:\n%s", n.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(c.AuditLog(), "token-redeem") {
		t.Error("a mistyped token reached the keyserver")
	}
}

// TestRenewalSurvivesOutage runs a node with lifetimes of seconds, stops the
// keyserver across its first renewal attempts, and checks that every
// credential is renewed before it expires and the node never stops being
// ready.
func TestRenewalSurvivesOutage(t *testing.T) {
	l := policy.Lifetimes{Keygrant: 14 * time.Second, NodeCert: 12 * time.Second, SSHHost: 12 * time.Second, Admin: time.Hour, Token: time.Hour}
	c := keysystemtest.Start(t, l)
	n := start(t, c, "master1", install(t, c, "master1", true), keyclient.Options{})
	n.waitReady(20 * time.Second)

	expiring := map[string]string{} // credential -> first certificate
	for _, cred := range credential.For(config.KindMaster) {
		if cred.Expires() {
			data, _ := os.ReadFile(n.layout.Path(cred.Path))
			expiring[cred.Name] = string(data)
		}
	}

	c.StopServer()
	metrics := httptest.NewServer(n.agent.Handler())
	defer metrics.Close()
	scrape := func() string {
		resp, err := metrics.Client().Get(metrics.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(scrape(), `result="error"`) {
		if time.Now().After(deadline) {
			t.Fatal("no failed renewal attempt during the outage")
		}
		if !n.agent.IsReady() {
			t.Fatalf("not ready during outage: %v", n.agent.Missing())
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.StartServer()

	deadline = time.Now().Add(30 * time.Second)
	for len(expiring) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not renewed: %v\nlog:\n%s", expiring, n.logs)
		}
		if !n.agent.IsReady() {
			t.Fatalf("a credential lapsed: %v\nlog:\n%s", n.agent.Missing(), n.logs)
		}
		for _, cred := range credential.For(config.KindMaster) {
			if first, ok := expiring[cred.Name]; ok {
				if data, _ := os.ReadFile(n.layout.Path(cred.Path)); len(data) > 0 && string(data) != first {
					delete(expiring, cred.Name)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := scrape()
	for _, want := range []string{
		`homeworld_keyclient_ready 1`,
		`homeworld_keyclient_credential_expiry_timestamp_seconds{credential="etcd-server"}`,
		`homeworld_keyclient_last_attempt_success{credential="kubernetes-master"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
