package usergrant

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/kerberos"
	"homeworld.dev/homeworld/internal/kubetest"
	"homeworld.dev/homeworld/internal/pki"
)

// TestGrant runs user-grant with a real KDC, a real apiserver and real
// kubectl and curl: users get a namespace they administer and nothing
// beyond it, again and again with the same result; everyone else is
// refused, each refusal audited, and the service keeps serving.
func TestGrant(t *testing.T) {
	f := newFixture(t)
	addr := f.serve(t, f.api.URL, f.signer)
	for _, u := range []string{"alice", "bob", "carol", "alice/admin"} {
		f.kdc.addUser(t, u, u+"-password")
	}
	f.kdc.addService(t, "HTTP/other.homeworld.test", filepath.Join(t.TempDir(), "other.keytab"))
	alice := f.kdc.kinit(t, "alice", "alice-password")
	bob := f.kdc.kinit(t, "bob", "bob-password")

	keep := t.TempDir() // kubeconfigs the subtests share
	var aliceConfig string
	t.Run("alice is granted user-alice", func(t *testing.T) {
		resp, body := f.get(t, addr, "/", f.negotiate(t, alice, ServicePrincipal(f.cfg)))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", resp.Status, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/yaml" {
			t.Errorf("Content-Type %q, want application/yaml", ct)
		}
		if cd := resp.Header.Get("Content-Disposition"); cd != "" {
			t.Errorf("Content-Disposition %q without ?download=1", cd)
		}
		for _, want := range []string{"alice@" + testRealm, "~/.kube/config", "Keep it secret", "private key", "Valid until", "namespace: user-alice"} {
			if !strings.Contains(body, want) {
				t.Errorf("the kubeconfig does not say %q:\n%s", want, body)
			}
		}
		ev := f.lastAudit(t)
		if ev.Action != "grant" || ev.Result != "ok" || ev.Principal != "alice@"+testRealm || ev.Target != "user-alice" || ev.Remote == "" ||
			!strings.Contains(ev.Detail, "namespace/user-alice created") || !strings.Contains(ev.Detail, "rolebinding/"+RoleBindingName+" created") {
			t.Errorf("audit %+v, want alice's grant with what was created", ev)
		}
		aliceConfig = filepath.Join(keep, "alice.kubeconfig")
		write(t, aliceConfig, body)
		if who, err := f.kubectl(aliceConfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); err != nil || who != "user:alice" {
			t.Errorf("kubectl auth whoami = %q, %v; want user:alice", who, err)
		}
		if ns, err := f.kubectl(aliceConfig, "config", "view", "--minify", "-o", "jsonpath={..namespace}"); err != nil || ns != "user-alice" {
			t.Errorf("the context's namespace = %q, %v; want user-alice", ns, err)
		}
		labels := f.api.Kubectl(t, "get", "namespace", "user-alice", "-o", `jsonpath={.metadata.labels.app\.kubernetes\.io/managed-by} {.metadata.labels.homeworld\.dev/user}`)
		if string(labels) != "homeworld alice" {
			t.Errorf("namespace labels %q, want managed-by homeworld, user alice", labels)
		}
	})
	if aliceConfig == "" {
		t.FailNow()
	}

	t.Run("alice runs a pod in her namespace", func(t *testing.T) {
		// kube-controller-manager makes each namespace's default service
		// account; none runs here, so the admin stands in for it.
		f.api.Kubectl(t, "create", "serviceaccount", "default", "-n", "user-alice")
		if out, err := f.kubectl(aliceConfig, "run", "web", "--image=homeworld.private/pause", "--restart=Never"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		// The pod states no resources: the LimitRange fills them in, so
		// the quota admits it.
		res, err := f.kubectl(aliceConfig, "get", "pod", "web", "-n", "user-alice", "-o", "jsonpath={.spec.containers[0].resources.requests.cpu} {.spec.containers[0].resources.limits.memory}")
		if want := DefaultRequest["cpu"] + " " + DefaultLimit["memory"]; err != nil || res != want {
			t.Errorf("the pod's resources = %q, %v; want the defaults %q", res, err, want)
		}
		if _, err := f.kubectl(aliceConfig, "delete", "resourcequota", QuotaName); !forbidden(err) {
			t.Errorf("alice deleting her quota = %v, want Forbidden", err)
		}
	})

	var bobConfig string
	t.Run("bob and alice stay in their namespaces", func(t *testing.T) {
		bobConfig = f.grant(t, addr, bob)
		if err := os.Rename(bobConfig, filepath.Join(keep, "bob.kubeconfig")); err != nil {
			t.Fatal(err)
		}
		bobConfig = filepath.Join(keep, "bob.kubeconfig")
		f.lastAudit(t)
		for _, c := range []struct {
			who, config string
			args        []string
		}{
			{"alice", aliceConfig, []string{"get", "pods", "-n", "user-bob"}},
			{"alice", aliceConfig, []string{"run", "x", "--image=homeworld.private/pause", "-n", "user-bob"}},
			{"alice", aliceConfig, []string{"get", "nodes"}},
			{"alice", aliceConfig, []string{"get", "namespaces"}},
			{"alice", aliceConfig, []string{"create", "namespace", "alice-more"}},
			{"alice", aliceConfig, []string{"get", "secrets", "-n", "kube-system"}},
			{"bob", bobConfig, []string{"get", "pods", "-n", "user-alice"}},
			{"bob", bobConfig, []string{"delete", "pod", "web", "-n", "user-alice"}},
			{"bob", bobConfig, []string{"get", "nodes"}},
			{"bob", bobConfig, []string{"create", "namespace", "bob-more"}},
		} {
			if _, err := f.kubectl(c.config, c.args...); !forbidden(err) {
				t.Errorf("%s: kubectl %s = %v, want Forbidden", c.who, strings.Join(c.args, " "), err)
			}
		}
		if out, err := f.kubectl(bobConfig, "get", "pods"); err != nil {
			t.Errorf("bob listing his own pods: %v %s", err, out)
		}
	})

	t.Run("alice again: the same namespace, unchanged", func(t *testing.T) {
		before := versions(t, f.api, "alice")
		again := f.grant(t, addr, alice)
		ev := f.lastAudit(t)
		if ev.Action != "grant" || strings.Contains(ev.Detail, "created") || strings.Contains(ev.Detail, "updated") {
			t.Errorf("audit %+v, want a grant that changed nothing", ev)
		}
		if after := versions(t, f.api, "alice"); after != before {
			t.Errorf("resource versions %s, then %s: the second grant wrote objects", before, after)
		}
		if out, err := f.kubectl(again, "get", "pod", "web", "-o", "name"); err != nil || strings.TrimSpace(out) != "pod/web" {
			t.Errorf("alice's pod with her second kubeconfig: %q, %v", out, err)
		}
		if _, err := f.kubectl(aliceConfig, "get", "pods"); err != nil {
			t.Errorf("alice's first kubeconfig stopped working: %v", err)
		}
	})

	t.Run("a changed quota is put back", func(t *testing.T) {
		f.api.Kubectl(t, "patch", "resourcequota", QuotaName, "-n", "user-alice", "--type", "merge", "-p", `{"spec":{"hard":{"pods":"100"}}}`)
		f.grant(t, addr, alice)
		if ev := f.lastAudit(t); !strings.Contains(ev.Detail, "resourcequota/"+QuotaName+" updated") {
			t.Errorf("audit %+v, want the quota updated", ev)
		}
		if pods := f.api.Kubectl(t, "get", "resourcequota", QuotaName, "-n", "user-alice", "-o", "jsonpath={.spec.hard.pods}"); string(pods) != Quota["pods"] {
			t.Errorf("quota pods = %s, want %s", pods, Quota["pods"])
		}
	})

	t.Run("a namespace user-grant did not make is not taken over", func(t *testing.T) {
		f.api.Kubectl(t, "create", "namespace", "user-carol")
		carol := f.kdc.kinit(t, "carol", "carol-password")
		resp, body := f.get(t, addr, "/", f.negotiate(t, carol, ServicePrincipal(f.cfg)))
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "user-carol") || strings.Contains(body, "client-key-data") {
			t.Errorf("%s: %s; want 409 naming user-carol", resp.Status, body)
		}
		if ev := f.lastAudit(t); ev.Action != "refuse" || ev.Principal != "carol@"+testRealm || ev.Result != "error" {
			t.Errorf("audit %+v, want carol refused", ev)
		}
		if out := f.api.Kubectl(t, "get", "rolebindings,resourcequotas", "-n", "user-carol", "-o", "name"); len(out) != 0 {
			t.Errorf("user-carol holds %s", out)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		adminCache := f.kdc.kinit(t, "alice/admin", "alice/admin-password")
		for _, c := range []struct {
			name, authz string
			status      int
			body        string // in the answer
			result      string // audited
			principal   string // audited
			detail      string // audited
		}{
			{"no ticket", "", http.StatusUnauthorized, "run kinit", "unauthenticated", "", "no Kerberos ticket"},
			{"an instance", f.negotiate(t, adminCache, ServicePrincipal(f.cfg)), http.StatusForbidden, "alice/admin@" + testRealm, "forbidden", "alice/admin@" + testRealm, "instance"},
			{"a ticket for another service", f.negotiate(t, alice, "HTTP/other.homeworld.test"), http.StatusUnauthorized, "HTTP/other.homeworld.test", "unauthenticated", "", "ticket for HTTP/other.homeworld.test"},
			{"garbage", "Negotiate !!!not-base64!!!", http.StatusBadRequest, "malformed Negotiate", "invalid", "", "malformed"},
			{"a token that is not Kerberos", "Negotiate " + "YWJjZGVm", http.StatusBadRequest, "malformed Negotiate", "invalid", "", "malformed"},
			{"an oversized token", "Negotiate " + strings.Repeat("A", kerberos.MaxHeaderToken+4), http.StatusRequestHeaderFieldsTooLarge, "refused", "invalid", "", "bytes refused"},
			{"another scheme", "Basic YWxpY2U6cHc=", http.StatusUnauthorized, "only Kerberos", "unauthenticated", "", "not accepted"},
		} {
			resp, body := f.get(t, addr, "/", c.authz)
			if resp.StatusCode != c.status || !strings.Contains(body, c.body) || strings.Contains(body, "client-key-data") {
				t.Errorf("%s: %s: %q; want %d saying %q", c.name, resp.Status, body, c.status, c.body)
			}
			if c.status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") != "Negotiate" {
				t.Errorf("%s: WWW-Authenticate %q, want Negotiate", c.name, resp.Header.Get("WWW-Authenticate"))
			}
			ev := f.lastAudit(t)
			if ev.Action != "authenticate" || ev.Result != c.result || ev.Principal != c.principal || !strings.Contains(ev.Detail, c.detail) || ev.Remote == "" {
				t.Errorf("%s: audit %+v, want result %s, principal %q, detail saying %q", c.name, ev, c.result, c.principal, c.detail)
			}
		}
		resp, err := f.client.Head("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || len(f.newAudit(t)) != 0 {
			t.Errorf("HEAD: %s, want 405 and nothing granted", resp.Status)
		}
		// Still serving.
		f.grant(t, addr, alice)
		f.lastAudit(t)
	})

	t.Run("apiserver, keyserver or certificate at fault: nothing is handed out", func(t *testing.T) {
		closed := "127.0.0.1:" + strconv.Itoa(kubetest.FreePort(t))
		deadKeyserver, err := NewKeyserverSigner(f.cfg, f.files, closed, t.Logf)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(deadKeyserver.Close)
		for _, c := range []struct {
			name string
			addr string
			body string
		}{
			{"apiserver down", f.serve(t, "https://"+closed, f.signer), "Kubernetes API could not be reached"},
			{"keyserver down", f.serve(t, f.api.URL, deadKeyserver), "keyserver could not be reached"},
			{"a certificate in system:masters", f.serve(t, f.api.URL, keyserverStandIn{cert: f.signer.cert, key: f.signer.key, orgs: []string{"system:masters"}}), "puts the user in groups"},
		} {
			resp, body := f.get(t, c.addr, "/", f.negotiate(t, alice, ServicePrincipal(f.cfg)))
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, c.body) || strings.Contains(body, "client-key-data") {
				t.Errorf("%s: %s: %q; want 502 saying %q", c.name, resp.Status, body, c.body)
			}
			if ev := f.lastAudit(t); ev.Action != "refuse" || ev.Principal != "alice@"+testRealm || ev.Result != "error" || ev.Target != "user-alice" {
				t.Errorf("%s: audit %+v, want alice refused", c.name, ev)
			}
		}
	})

	t.Run("renewed certificate and rotated keytab are used at once", func(t *testing.T) {
		writeLeaf(t, f.caCert, f.caKey, pki.TLSGrant{CommonName: testDomain, Names: []string{testDomain}, Usage: pki.ServerAuth, Lifetime: time.Hour}, f.files.ServingCert, f.files.ServingKey)
		renewed, err := tls.LoadX509KeyPair(f.files.ServingCert, f.files.ServingKey)
		if err != nil {
			t.Fatal(err)
		}
		f.client.CloseIdleConnections()
		resp, _ := f.get(t, addr, "/healthz", "")
		if resp.TLS == nil || !bytes.Equal(resp.TLS.PeerCertificates[0].Raw, renewed.Certificate[0]) {
			t.Error("a new connection still gets the old serving certificate")
		}
		// ktadd gives the service a new key (kvno 2), appended to the
		// keytab; a fresh login gets tickets under it.
		f.kdc.kadmin(t, "ktadd -k "+f.files.Keytab+" "+ServicePrincipal(f.cfg)+"@"+testRealm)
		kt, err := exec.Command("klist", "-k", f.files.Keytab).CombinedOutput()
		if err != nil || !strings.Contains(string(kt), "   2 "+ServicePrincipal(f.cfg)) {
			t.Fatalf("the keytab holds no key of kvno 2 after ktadd (%v):\n%s", err, kt)
		}
		fresh := f.kdc.kinit(t, "alice", "alice-password")
		f.grant(t, addr, fresh)
		if ev := f.lastAudit(t); ev.Action != "grant" {
			t.Errorf("audit %+v after the key rotation, want a grant", ev)
		}
	})

	t.Run("curl --negotiate", func(t *testing.T) {
		out, err := exec.Command("curl", "-V").Output()
		if err != nil || !strings.Contains(string(out), "GSS-API") {
			t.Fatalf("curl -V = %v, without GSS-API (Debian's curl has it):\n%s", err, out)
		}
		_, port, _ := net.SplitHostPort(addr)
		dir := t.TempDir()
		headers, kubeconfig := filepath.Join(dir, "headers"), filepath.Join(dir, "kubeconfig")
		cmd := exec.Command("curl", "--silent", "--show-error", "--fail", "--negotiate", "-u", ":",
			"--cacert", f.clusterCA, "--resolve", testDomain+":"+port+":127.0.0.1",
			"--dump-header", headers, "--output", kubeconfig,
			"https://"+net.JoinHostPort(testDomain, port)+"/?download=1")
		cmd.Env = append(os.Environ(), "KRB5_CONFIG="+f.kdc.Conf, "KRB5CCNAME=FILE:"+alice)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		// curl may first ask without a ticket, to be challenged.
		evs := f.newAudit(t)
		if len(evs) == 0 {
			t.Fatal("curl's grant was not audited")
		}
		if last := evs[len(evs)-1]; last.Action != "grant" || last.Principal != "alice@"+testRealm || len(evs) > 2 || len(evs) == 2 && evs[0].Result != "unauthenticated" {
			t.Errorf("audit %+v, want alice's grant, after a challenge at most", evs)
		}
		h, _ := os.ReadFile(headers)
		if !strings.Contains(strings.ToLower(string(h)), "content-disposition: attachment; filename=kubeconfig") {
			t.Errorf("?download=1 answered without the attachment header:\n%s", h)
		}
		if who, err := f.kubectl(kubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); err != nil || who != "user:alice" {
			t.Errorf("curl's kubeconfig: kubectl auth whoami = %q, %v", who, err)
		}
	})
}

// forbidden reports whether kubectl failed because RBAC said no.
func forbidden(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "forbidden")
}

// versions are the resource versions of user's namespace and the objects
// user-grant keeps in it.
func versions(t *testing.T, api *kubetest.APIServer, user string) string {
	t.Helper()
	ns := api.Kubectl(t, "get", "namespace", Namespace(user), "-o", "jsonpath={.metadata.resourceVersion}")
	objs := api.Kubectl(t, "get", "resourcequota/"+QuotaName, "limitrange/"+LimitRangeName, "rolebinding/"+RoleBindingName,
		"-n", Namespace(user), "-o", "jsonpath={range .items[*]}{.metadata.resourceVersion} {end}")
	return string(ns) + " " + strings.TrimSpace(string(objs))
}
