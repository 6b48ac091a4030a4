package keyserver_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/testutil"
)

func randomName(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func scrape(t *testing.T, c *keysystemtest.Cluster) string {
	t.Helper()
	resp, err := rawHTTP(t, c, nil, "127.0.0.200").Get("https://" + c.Addr + keyapi.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func post(t *testing.T, hc *http.Client, c *keysystemtest.Cluster, body []byte, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "https://"+c.Addr+keyapi.PathAPI, bytes.NewReader(body))
	if token != "" {
		req.Header.Set(keyapi.TokenHeader, token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func batchOf(reqs ...keyapi.Request) []byte {
	b, _ := json.Marshal(keyapi.Batch{Requests: reqs})
	return b
}

// Names a caller chooses never become metric labels or audit bulk: 1,000
// requests with random 16 KiB API names, anonymous and authenticated, leave
// /metrics, the heap and the audit log within small fixed bounds.
func TestCallerChosenNamesGrowNothing(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	anon := rawHTTP(t, c, nil, "127.0.0.200")
	node := rawHTTP(t, c, c.Identity("worker1.test.homeworld.example"), "127.0.0.31")
	post(t, anon, c, batchOf(keyapi.Request{API: "warm-up"}), "")
	post(t, node, c, batchOf(keyapi.Request{API: "warm-up"}), "")
	metricsBefore := len(scrape(t, c))
	auditBefore := len(c.AuditLog())
	heapBefore := heapAfterGC()

	const n = 1000
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				hc := anon
				if i%2 == 1 {
					hc = node
				}
				status, _ := post(t, hc, c, batchOf(keyapi.Request{API: keyapi.API(randomName(16 << 10))}), "")
				if status != http.StatusUnauthorized && status != http.StatusForbidden {
					t.Errorf("request %d: status %d", i, status)
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	anon.CloseIdleConnections()
	node.CloseIdleConnections()

	metrics := scrape(t, c)
	if grown := len(metrics) - metricsBefore; grown > 4<<10 {
		t.Errorf("/metrics grew by %d bytes after %d requests with random API names", grown, n)
	}
	if !strings.Contains(metrics, fmt.Sprintf(`homeworld_keyserver_operations_total{api="other",result="forbidden"} %d`, n/2+1)) {
		t.Errorf("unknown APIs are not counted as other:\n%s", testutil.Grep(metrics, "operations_total"))
	}
	if grown := int64(heapAfterGC()) - int64(heapBefore); grown > 8<<20 {
		t.Errorf("heap grew by %d bytes after GC; the requests carried %d bytes of names", grown, n*(16<<10))
	}
	audit := c.AuditLog()[auditBefore:]
	lines := strings.Split(strings.TrimSpace(audit), "\n")
	for _, l := range lines {
		if len(l) > 1024 {
			t.Fatalf("audit line of %d bytes: %.200s", len(l), l)
		}
	}
	// Authenticated refusals are all written; anonymous ones are limited.
	if len(lines) > n/2+20 {
		t.Errorf("%d audit lines for %d authenticated and %d anonymous refusals", len(lines), n/2, n/2)
	}
	if !strings.Contains(metrics, "homeworld_keyserver_audit_suppressed_refusals_total") || strings.Contains(metrics, "homeworld_keyserver_audit_suppressed_refusals_total 0\n") {
		t.Errorf("suppressed anonymous refusals are not counted:\n%s", testutil.Grep(metrics, "suppressed"))
	}
}

// Huge unknown JSON fields and API names from anonymous callers add only
// bounded lines, and the address's flood is summarized, not logged line by
// line.
func TestAnonymousRefusalsCannotGrowTheAuditLog(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	before := len(c.AuditLog())
	anon := rawHTTP(t, c, nil, "127.0.0.201")
	big := strings.Repeat("x", 1<<19)
	for i := range 20 {
		body := []byte(`{"requests":[{"api":"a"}],"` + big + fmt.Sprint(i) + `":1}`)
		if status, _ := post(t, anon, c, body, ""); status != http.StatusBadRequest {
			t.Fatalf("status %d", status)
		}
		body = batchOf(keyapi.Request{API: keyapi.API(big)})
		if status, _ := post(t, anon, c, body, ""); status != http.StatusUnauthorized {
			t.Fatalf("status %d", status)
		}
	}
	if grown := len(c.AuditLog()) - before; grown > 8<<10 {
		t.Errorf("40 anonymous requests of 512 KiB grew the audit log by %d bytes", grown)
	}
}

// A certificate from clusterca that is not the keyserver's, even one naming
// the supervisor, is refused by every keysystem client (keyclient, spire
// and auth-monitor all use keyapi.Client).
func TestOnlyTheKeyserverCertificateIsTrusted(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	sup := c.Config.Supervisor()
	// The registry certificate as the policy issues it names only the
	// registry.
	key, _ := pki.NewKey()
	csrPEM, _ := pki.MakeCSR(key)
	res, err := c.NodeClient("supervisor").Call1(ctx, "", keyapi.GrantRegistryHost, string(csrPEM))
	if err != nil {
		t.Fatal(err)
	}
	registry, _ := pki.ParseCert([]byte(res))
	if strings.Join(registry.DNSNames, ",") != policy.RegistryName || len(registry.IPAddresses) != 0 {
		t.Errorf("registry certificate names %v %v, want only %s", registry.DNSNames, registry.IPAddresses, policy.RegistryName)
	}
	// One naming the supervisor, as the registry's once did, is refused
	// for lacking the keyserver's mark.
	cl, err := keyapi.NewClient(keyapi.ClientConfig{Address: c.Impostor(), ServerName: c.Config.FQDN(sup), RootCAs: c.ClusterCA(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err = cl.Static(ctx, "cluster.conf"); err == nil || !strings.Contains(err.Error(), "not the keyserver's") {
		t.Errorf("impostor: %v, want a refusal saying it is not the keyserver", err)
	}
	if _, err := c.Client("127.0.0.200", nil).Static(ctx, "cluster.conf"); err != nil {
		t.Fatalf("real keyserver: %v", err)
	}
}

// With the audit log failing, nothing is delivered: no admission token, no
// identity, no service-account key; the server says why (503, metric), keeps
// serving, and delivers again once the log is back. A token is spent only
// after its spending is audited, so one redeemed while the log failed is
// not spent: it is redeemed afresh once the log is back.
func TestAuditFailsClosed(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	tok := c.Admit("worker1")
	logPath := c.Supervisor.KeyserverAuditLog()
	breakLog := func() {
		os.Rename(logPath, logPath+".1")
		if err := os.Symlink("/dev/full", logPath); err != nil {
			t.Fatal(err)
		}
		c.Server().ReopenAudit()
	}
	breakLog()

	_, err := c.AdminClient().Call1(ctx, "", keyapi.Admit, "worker2.test.homeworld.example")
	wantStatus(t, err, http.StatusServiceUnavailable, "audit log")
	_, err = c.NodeClient("master1").Call1(ctx, "", keyapi.FetchServiceAccountKey, "")
	wantStatus(t, err, http.StatusServiceUnavailable, "nothing was granted")
	key, _ := pki.NewKey()
	body, _ := pki.MakeCSR(key)
	w1 := c.Client("127.0.0.31", nil)
	_, err = w1.Call1(ctx, tok, keyapi.RenewKeygrant, string(body))
	wantStatus(t, err, http.StatusServiceUnavailable, "audit log")
	if m := scrape(t, c); !strings.Contains(m, "homeworld_keyserver_audit_failures_total 3") {
		t.Errorf("audit failures not counted:\n%s", testutil.Grep(m, "audit"))
	}

	os.Remove(logPath)
	c.Server().ReopenAudit()
	if _, err := w1.Call1(ctx, tok, keyapi.RenewKeygrant, string(body)); err != nil {
		t.Fatalf("redeeming once the log is back: %v", err)
	}
	if _, err := c.NodeClient("master1").Call1(ctx, "", keyapi.FetchServiceAccountKey, ""); err != nil {
		t.Fatalf("after the log recovered: %v", err)
	}
	log := c.AuditLog()
	spend := strings.Index(log, `"action":"token-spend","principal":"worker1.test.homeworld.example"`)
	redeem := strings.Index(log, `"action":"token-redeem","principal":"worker1.test.homeworld.example","remote":"127.0.0.31","result":"ok","auth":"token"`)
	if spend < 0 || redeem < spend || strings.Count(log, `"action":"token-spend"`) != 1 {
		t.Errorf("want one token-spend line before a fresh token-redeem line for worker1:\n%s", log)
	}
	if strings.Contains(log, "an earlier response was lost") {
		t.Error("the redemption after the log came back is audited as a replay, so the token was spent while its spending could not be audited")
	}
}

// One token buys one identity: a token batch holds one operation, and a
// second redemption is honoured only for the same key (a lost response).
func TestOneIdentityPerToken(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	tok := c.Admit("worker2")
	cl := c.Client("127.0.0.32", nil)
	a, b := csr(t), csr(t)
	_, err := cl.Call(ctx, tok, keyapi.Request{API: keyapi.RenewKeygrant, Body: a}, keyapi.Request{API: keyapi.RenewKeygrant, Body: b})
	wantStatus(t, err, http.StatusBadRequest, "exactly one operation")
	first, err := cl.Call1(ctx, tok, keyapi.RenewKeygrant, a)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cl.Call1(ctx, tok, keyapi.RenewKeygrant, a)
	if err != nil || again == first {
		t.Fatalf("same key again: %v (identical certificate: %v)", err, again == first)
	}
	_, err = cl.Call1(ctx, tok, keyapi.RenewKeygrant, b)
	wantStatus(t, err, http.StatusUnauthorized, "already used")
}

// The audit log names only what was delivered, and both principals of an
// impersonation.
func TestAuditNamesOnlyDeliveredGrants(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	m := c.NodeClient("master1")
	_, err := m.Call(ctx, "", keyapi.Request{API: keyapi.GrantEtcdClient, Body: csr(t)}, keyapi.Request{API: keyapi.AccessKubernetes, Body: csr(t)})
	wantStatus(t, err, http.StatusForbidden, "may not call")
	if log := c.AuditLog(); strings.Contains(log, `"action":"grant"`) {
		t.Errorf("a refused batch left grant lines:\n%s", log)
	}
	_, pub, _ := ed25519Key(t)
	if _, err := c.GatewayClient().Call(ctx, "", keyapi.Request{API: keyapi.ImpersonateAdmin, Body: "admin"}, keyapi.Request{API: keyapi.AccessSSH, Body: pub}); err != nil {
		t.Fatal(err)
	}
	if log := c.AuditLog(); !strings.Contains(log, `"action":"grant","principal":"admin","via":"keygateway@supervisor.test.homeworld.example","remote":"127.0.0.10","api":"`+string(keyapi.AccessSSH)+`"`) {
		t.Errorf("impersonated grant does not name both principals:\n%s", log)
	}
}

func TestBatchSizeLimit(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	reqs := make([]keyapi.Request, 100)
	for i := range reqs {
		reqs[i] = keyapi.Request{API: keyapi.GetLocalConfig}
	}
	_, err := c.NodeClient("worker1").Call(ctx, "", reqs...)
	wantStatus(t, err, http.StatusBadRequest, "at most")
	if _, err := c.NodeClient("worker1").Call(ctx, "", reqs[:len(credential.For("master"))]...); err != nil {
		t.Errorf("a batch the size of a master's credentials: %v", err)
	}
}

func TestTLS12Refused(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	_, err := tls.Dial("tcp", c.Addr, &tls.Config{RootCAs: c.ClusterCA(), MaxVersion: tls.VersionTLS12, ServerName: "supervisor.test.homeworld.example"})
	if err == nil {
		t.Fatal("TLS 1.2 accepted")
	}
}

// Internal errors give the caller a reference, not the server's details.
func TestInternalErrorsAreGeneric(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	store := filepath.Join(c.Supervisor.KeyserverState(), "tokens.json")
	os.Remove(store)
	if err := os.Mkdir(store, 0o700); err != nil { // renaming a file over a folder fails
		t.Fatal(err)
	}
	_, err := c.AdminClient().Call1(ctx, "", keyapi.Admit, "worker1.test.homeworld.example")
	wantStatus(t, err, http.StatusInternalServerError, "reference")
	if strings.Contains(err.Error(), c.Supervisor.Root) || strings.Contains(err.Error(), "tokens") {
		t.Errorf("internal error leaks details: %v", err)
	}
}

// An administrator cuts off a node identity, or one certificate, at once;
// the cut survives a restart and is lifted by allow.
func TestDenyList(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	admin := c.AdminClient()
	worker := c.NodeClient("worker1")
	if _, err := worker.Call1(ctx, "", keyapi.GetLocalConfig, ""); err != nil {
		t.Fatal(err)
	}
	list, err := admin.Call1(ctx, "", keyapi.Deny, "worker1.test.homeworld.example")
	if err != nil || !strings.Contains(list, "worker1.test.homeworld.example (by admin") {
		t.Fatalf("deny = %q, %v", list, err)
	}
	_, err = worker.Call1(ctx, "", keyapi.GetLocalConfig, "")
	wantStatus(t, err, http.StatusUnauthorized, "denied by an administrator")
	_, err = admin.Call1(ctx, "", keyapi.Admit, "worker1.test.homeworld.example")
	wantStatus(t, err, http.StatusForbidden, "denied")

	// One certificate by serial; another for the same node still works.
	id := c.Identity("worker2.test.homeworld.example")
	if _, err := admin.Call1(ctx, "", keyapi.Deny, fmt.Sprintf("serial:%X", id.Leaf.SerialNumber)); err != nil {
		t.Fatal(err)
	}
	_, err = c.Client("127.0.0.32", id).Call1(ctx, "", keyapi.GetLocalConfig, "")
	wantStatus(t, err, http.StatusUnauthorized, "serial")
	if _, err := c.NodeClient("worker2").Call1(ctx, "", keyapi.GetLocalConfig, ""); err != nil {
		t.Errorf("another certificate of worker2: %v", err)
	}

	c.StopServer()
	c.StartServer()
	_, err = c.NodeClient("worker1").Call1(ctx, "", keyapi.GetLocalConfig, "")
	wantStatus(t, err, http.StatusUnauthorized, "denied")
	if _, err := c.AdminClient().Call1(ctx, "", keyapi.Allow, "worker1.test.homeworld.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NodeClient("worker1").Call1(ctx, "", keyapi.GetLocalConfig, ""); err != nil {
		t.Errorf("after allow: %v", err)
	}
	_, err = c.NodeClient("worker1").Call1(ctx, "", keyapi.Deny, "worker2.test.homeworld.example")
	wantStatus(t, err, http.StatusForbidden, "may not call")
	_, err = c.AdminClient().Call1(ctx, "", keyapi.Deny, "serial:zz")
	wantStatus(t, err, http.StatusBadRequest, "not a certificate serial")
	_, err = c.AdminClient().Call1(ctx, "", keyapi.Deny, "admin")
	wantStatus(t, err, http.StatusBadRequest, "its own access")
	if !strings.Contains(c.AuditLog(), `"api":"`+string(keyapi.Deny)+`","target":"worker1.test.homeworld.example"`) {
		t.Error("deny is not audited")
	}
}

// auth-monitor's identity runs its checks and nothing else; the supervisor
// no longer issues the monitor's SSH certificates.
func TestMonitorIdentity(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	sup := c.Config.Supervisor()
	mon := c.SupervisorClient(policy.MonitorPrincipal(c.Config.FQDN(sup)))
	_, pub, _ := ed25519Key(t)
	if _, err := mon.Call1(ctx, "", keyapi.MonitorSSH, pub); err != nil {
		t.Fatalf("monitor SSH grant: %v", err)
	}
	out, err := mon.Call(ctx, "", keyapi.Request{API: keyapi.ImpersonateAdmin, Body: policy.MonitorProbe}, keyapi.Request{API: keyapi.AccessSSH, Body: pub})
	if err != nil || !strings.Contains(out[1], "-cert-v01@openssh.com") {
		t.Fatalf("probe path: %q, %v", out, err)
	}
	_, err = mon.Call1(ctx, "", keyapi.ImpersonateAdmin, "admin")
	wantStatus(t, err, http.StatusForbidden, "may not act as")
	_, err = mon.Call1(ctx, "", keyapi.Admit, "worker1.test.homeworld.example")
	wantStatus(t, err, http.StatusForbidden, "may not call")
	_, err = c.NodeClient("supervisor").Call1(ctx, "", keyapi.MonitorSSH, pub)
	wantStatus(t, err, http.StatusForbidden, "may not call")
}
