package krb5test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// KadminLocal runs query with kadmin.local on the realm's database and
// returns its output, failing t (with the output) if it fails.
func (k *KDC) KadminLocal(t testing.TB, query string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := k.Command("kadmin.local", "-r", k.Realm, "-q", query)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// kadmin.local exits 0 when a query fails; the error is a stderr line
	// led by the failing function, e.g. `add_principal: Principal or policy
	// already exists while creating "x@R".`
	if err == nil && queryFailed.Match(stderr.Bytes()) {
		err = errors.New("the query failed")
	}
	if err != nil {
		t.Fatalf("kadmin.local -q %q: %v\n%s%s", query, err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String()
}

var queryFailed = regexp.MustCompile(`(?m)^[a-z_.]+: `)

// AddPrincipal creates a principal with a password (which must not contain
// a double quote).
func (k *KDC) AddPrincipal(t testing.TB, name, password string) {
	t.Helper()
	k.KadminLocal(t, fmt.Sprintf("addprinc -pw %q %s", password, name))
}

// AddService creates a principal with random keys, e.g. HTTP/host.
func (k *KDC) AddService(t testing.TB, name string) {
	t.Helper()
	k.KadminLocal(t, "addprinc -randkey "+name)
}

// Keytab writes (or appends to) the keytab at path the principals' current
// keys, leaving their kvno unchanged.
func (k *KDC) Keytab(t testing.TB, path string, principals ...string) {
	t.Helper()
	k.KadminLocal(t, fmt.Sprintf("ktadd -norandkey -k %q %s", path, strings.Join(principals, " ")))
}

// Kinit gets principal a TGT with a real kinit, the password on stdin, into
// a fresh ccache whose path it returns. args go before the principal, e.g.
// "-l", "10s".
func (k *KDC) Kinit(t testing.TB, principal, password string, args ...string) string {
	t.Helper()
	ccache := filepath.Join(t.TempDir(), "ccache")
	if out, err := k.kinit(ccache, principal, password, args...); err != nil {
		t.Fatalf("kinit %s: %v\n%s", principal, err, out)
	}
	return ccache
}

func (k *KDC) kinit(ccache, principal, password string, args ...string) ([]byte, error) {
	cmd := k.Command("kinit", append(append([]string{"-c", ccache}, args...), principal)...)
	cmd.Stdin = strings.NewReader(password + "\n")
	return cmd.CombinedOutput()
}

// KinitKeytab gets principal a TGT with its key from keytab into a fresh
// ccache whose path it returns.
func (k *KDC) KinitKeytab(t testing.TB, principal, keytab string) string {
	t.Helper()
	ccache := filepath.Join(t.TempDir(), "ccache")
	if out, err := k.Command("kinit", "-c", ccache, "-k", "-t", keytab, principal).CombinedOutput(); err != nil {
		t.Fatalf("kinit -k -t %s %s: %v\n%s", keytab, principal, err, out)
	}
	return ccache
}

// Kvno gets a ticket for service with the TGT in ccache, which keeps it.
func (k *KDC) Kvno(t testing.TB, ccache, service string) {
	t.Helper()
	if out, err := k.Command("kvno", "-c", ccache, service).CombinedOutput(); err != nil {
		t.Fatalf("kvno %s: %v\n%s", service, err, out)
	}
}
