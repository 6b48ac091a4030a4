package authmonitor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/policy"
)

// TestStaticCheck: the served cluster.conf matches setup.yaml, and a
// setup.yaml that says otherwise is noticed.
func TestStaticCheck(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	ca := c.Supervisor.KeyserverCA()
	if err := os.MkdirAll(filepath.Dir(ca), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, c.ClusterCAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := New(c.Supervisor, c.Addr, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.checkStatic(context.Background()); err != nil {
		t.Errorf("checkStatic = %v", err)
	}
	// VIRTUAL is the keyserver's installer's word, not setup.yaml's.
	if err := os.WriteFile(c.Supervisor.KeyserverVirtual(), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.StopServer()
	c.StartServer()
	if err := m.checkStatic(context.Background()); err != nil {
		t.Errorf("checkStatic in a virtual cluster = %v", err)
	}
	m.cfg.Cluster.EtcdToken = "another-token"
	if err := m.checkStatic(context.Background()); err == nil || !strings.Contains(err.Error(), "another-token") {
		t.Errorf("checkStatic with another etcd token = %v", err)
	}
}
