package keyclient_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/clock"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/keyclient"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/testutil"
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
	testutil.WaitFor(t, 10*time.Second, "the agent to report that it has no admission token", func() (bool, error) {
		missing := n.agent.Missing()
		return strings.Contains(strings.Join(missing, ";"), "no admission token"), fmt.Errorf("missing: %v", missing)
	})
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
	n.waitFor(10*time.Second, "a message that the token is mistyped", func() bool {
		return strings.Contains(n.logs.String(), "mistyped")
	})
	if strings.Contains(c.AuditLog(), "token-redeem") {
		t.Error("a mistyped token reached the keyserver")
	}
}

// TestRenewalSurvivesOutage stops the keyserver just as a node's
// credentials fall due for renewal, and checks that the node keeps trying,
// stays ready meanwhile, and renews every credential once the keyserver is
// back, before any expires. Keyserver and node share a fake clock, moved
// past the renewal point at once instead of waited for; TLS checks
// certificates by it too.
func TestRenewalSurvivesOutage(t *testing.T) {
	clk := clock.NewFake(time.Now())
	l := policy.Lifetimes{Keygrant: 50 * time.Second, NodeCert: 45 * time.Second, SSHHost: 45 * time.Second, Admin: time.Hour, Token: time.Hour, User: time.Hour}
	c := keysystemtest.StartAt(t, l, clk.Now)
	// A short MaxSleep: the agent sleeps by the system clock, so it must
	// look often to notice the fake clock moving.
	n := start(t, c, "master1", install(t, c, "master1", true), keyclient.Options{Now: clk.Now, MaxSleep: 20 * time.Millisecond})
	n.waitReady(20 * time.Second)

	expiring := map[string]string{} // credential -> first certificate
	for _, cred := range credential.For(config.KindMaster) {
		if cred.Expires() {
			data, _ := os.ReadFile(n.layout.Path(cred.Path))
			expiring[cred.Name] = string(data)
		}
	}
	if len(expiring) == 0 {
		t.Fatal("a master has no expiring credentials: nothing to renew")
	}

	c.StopServer()
	// Past 70% of the longest lifetime, the latest renewal point, and short
	// of the shortest lifetime: every credential is due, none expired.
	clk.Advance(36 * time.Second)
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
	testutil.WaitFor(t, 15*time.Second, "a failed renewal attempt during the outage", func() (bool, error) {
		if !n.agent.IsReady() {
			t.Fatalf("not ready during outage: %v", n.agent.Missing())
		}
		return strings.Contains(scrape(), `result="error"`), agentLog{n.logs}
	})
	c.StartServer()
	// Past every retry's backoff (at most RetryMax, see start).
	clk.Advance(time.Second)

	testutil.WaitFor(t, 30*time.Second, "every expiring credential renewed", func() (bool, error) {
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
		return len(expiring) == 0, fmt.Errorf("not renewed: %v; %w", slices.Sorted(maps.Keys(expiring)), agentLog{n.logs})
	})
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

// TestAgentReturnsMemoryOnlyWhenAsked: with Options.ReturnMemory (the
// keyclient command's setting) Run gives memory back once a pass leaves it
// idle, as it is once the node is credentialed; without it (many agents
// in one process) it never does.
func TestAgentReturnsMemoryOnlyWhenAsked(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	var calls atomic.Int32
	defer keyclient.SetReturnMemory(func() { calls.Add(1) })()

	quiet := start(t, c, "worker1", install(t, c, "worker1", true), keyclient.Options{})
	quiet.waitReady(30 * time.Second)
	quiet.stop() // Run has returned: every pass it made is done
	if n := calls.Load(); n != 0 {
		t.Fatalf("without ReturnMemory, Run gave memory back %d times", n)
	}

	returning := start(t, c, "worker2", install(t, c, "worker2", true), keyclient.Options{ReturnMemory: true})
	returning.waitReady(30 * time.Second)
	testutil.WaitFor(t, 10*time.Second, "Run to give memory back after the pass that credentialed the node", func() (bool, error) {
		return calls.Load() > 0, nil
	})
}
