package flannelmonitor

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"homeworld.dev/homeworld/internal/incluster"
)

// fakeAPIServer stands in for a Kubernetes API server, which a unit test
// cannot have: over TLS, with a bearer token, it answers the three reads
// the monitors make (nodes; pods of a namespace by label app= and phase
// Running; one pod) from the tables below. The real API server is met end
// to end (e2e).
type fakeAPIServer struct {
	t     *testing.T
	token string

	mu        sync.Mutex
	nodes     []fakeNode
	pods      []fakePod
	forbidden bool // answer 403 to everything, as a missing Role would
}

type fakeNode struct {
	name string
	ips  []string
}

type fakePod struct {
	name, namespace, app, phase string
	podIP, hostIP               string
	deleting                    bool
}

// newFakeAPIServer starts the stand-in and returns a client of it.
func newFakeAPIServer(t *testing.T) (*fakeAPIServer, *incluster.Client) {
	f := &fakeAPIServer{t: t, token: "token-for-test"}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(f.token+"\n"), 0o600)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return f, incluster.New(srv.URL, tokenFile, pool)
}

func (f *fakeAPIServer) set(nodes []fakeNode, pods []fakePod) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes, f.pods = nodes, pods
}

func (f *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if f.forbidden {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"kind":"Status","message":"pods is forbidden: User \"system:serviceaccount:kube-system:flannel-monitor\" cannot list resource \"pods\""}`))
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.URL.Path == "/api/v1/nodes":
		var items []any
		for _, n := range f.nodes {
			var addrs []any
			for _, ip := range n.ips {
				addrs = append(addrs, map[string]string{"type": "InternalIP", "address": ip})
			}
			addrs = append(addrs, map[string]string{"type": "Hostname", "address": n.name})
			items = append(items, map[string]any{"metadata": map[string]any{"name": n.name}, "status": map[string]any{"addresses": addrs}})
		}
		f.reply(w, map[string]any{"kind": "NodeList", "items": items})
	case len(parts) == 5 && parts[2] == "namespaces" && parts[4] == "pods":
		label, field := r.URL.Query().Get("labelSelector"), r.URL.Query().Get("fieldSelector")
		if field != "status.phase=Running" {
			f.t.Errorf("fake API server: pods listed with field selector %q", field)
		}
		var items []any
		for _, p := range f.pods {
			if p.namespace == parts[3] && label == "app="+p.app && p.phase == "Running" {
				items = append(items, p.json())
			}
		}
		f.reply(w, map[string]any{"kind": "PodList", "items": items})
	case len(parts) == 6 && parts[2] == "namespaces" && parts[4] == "pods":
		for _, p := range f.pods {
			if p.namespace == parts[3] && p.name == parts[5] {
				f.reply(w, p.json())
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"kind":"Status","message":"pods \"` + parts[5] + `\" not found"}`))
	default:
		f.t.Errorf("fake API server: unexpected %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

func (p fakePod) json() map[string]any {
	meta := map[string]any{"name": p.name, "namespace": p.namespace, "labels": map[string]string{"app": p.app}}
	if p.deleting {
		meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
	}
	return map[string]any{"metadata": meta, "spec": map[string]any{"nodeName": "n-" + p.hostIP},
		"status": map[string]any{"phase": p.phase, "podIP": p.podIP, "hostIP": p.hostIP}}
}

func (f *fakeAPIServer) reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// forbid makes every later request fail as a missing Role would.
func (f *fakeAPIServer) forbid() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forbidden = true
}
