package authmonitor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/keygateway/gatewaytest"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/krb5test"
	"homeworld.dev/homeworld/internal/layout"
)

// The gateway check logs in to a real KDC with the supervisor's host key
// from the keytab and is accepted by a real gateway; without the keytab
// it fails naming it.
func TestGatewayCheck(t *testing.T) {
	kdc := krb5test.Start(t, krb5test.Options{})
	c := keysystemtest.StartWith(t, keysystemtest.Options{Setup: keysystemtest.KerberosSetup})
	gw := gatewaytest.Start(t, c, kdc)
	sup := c.Supervisor
	for path, data := range map[string][]byte{
		sup.KeyserverCA():         c.ClusterCAPEM(),
		sup.Path(layout.Krb5Conf): read(t, kdc.Config),
		sup.Path(layout.Keytab):   read(t, gw.Files.Keytab),
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m, err := New(sup, c.Addr, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	m.Gateway = gw.Addr
	if err := m.checkGateway(context.Background()); err != nil {
		t.Fatalf("gateway check: %v", err)
	}
	if log := gw.AuditLog(); !strings.Contains(log, `"action":"grant","principal":"host/supervisor.test.homeworld.example@HOMEWORLD.TEST"`) || !strings.Contains(log, `"api":"check"`) {
		t.Errorf("gateway audit:\n%s", log)
	}
	os.Remove(sup.Path(layout.Keytab))
	if err := m.checkGateway(context.Background()); err == nil || !strings.Contains(err.Error(), layout.Keytab) {
		t.Errorf("gateway check without a keytab: %v", err)
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
