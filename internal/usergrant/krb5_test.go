package usergrant

import (
	"os"
	"path/filepath"
	"testing"

	"homeworld.dev/homeworld/internal/krb5test"
)

// testKDC is krb5test's real MIT realm, with the few operations these
// tests ask of it.
type testKDC struct {
	*krb5test.KDC
	Conf string // krb5.conf for clients (KRB5_CONFIG)
}

func startKDC(t *testing.T, realm string) *testKDC {
	t.Helper()
	k := krb5test.Start(t, krb5test.Options{Realm: realm})
	return &testKDC{KDC: k, Conf: k.Config}
}

func (k *testKDC) kadmin(t *testing.T, query string) { t.Helper(); k.KadminLocal(t, query) }

// addUser adds principal (without realm) with password.
func (k *testKDC) addUser(t *testing.T, principal, password string) {
	t.Helper()
	k.AddPrincipal(t, principal, password)
}

// addService adds principal (without realm) with a random key and writes
// the key to keytab.
func (k *testKDC) addService(t *testing.T, principal, keytab string) {
	t.Helper()
	k.AddService(t, principal)
	if err := os.MkdirAll(filepath.Dir(keytab), 0o755); err != nil {
		t.Fatal(err)
	}
	k.Keytab(t, keytab, principal)
}

// kinit logs principal in with a real kinit and returns the ticket cache.
func (k *testKDC) kinit(t *testing.T, principal, password string) string {
	t.Helper()
	return k.Kinit(t, principal, password)
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
