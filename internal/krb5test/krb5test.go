// Package krb5test runs a real MIT Kerberos realm for tests: krb5kdc (and
// kadmind if asked) on loopback ports, with every file in the test's temp
// dir, stopped when the test ends. The host's /etc/krb5.conf and
// /etc/krb5kdc are never read: children get KRB5_CONFIG and
// KRB5_KDC_PROFILE from Env. Only tests import it.
package krb5test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Options shape the realm.
type Options struct {
	Realm   string        // default "HOMEWORLD.TEST"
	Kadmind bool          // also run kadmind (needed for k5srvutil change/delold through kadmin)
	MaxLife time.Duration // max ticket life in kdc.conf; default 10h
	// AlsoListen are further IPs the KDC listens on, on its port: a test
	// bridge's address, for hosts in namespaces the test made
	// (ConfigFor writes their krb5.conf).
	AlsoListen []string
}

// KDC is a running realm.
type KDC struct {
	Realm     string
	Dir       string // the realm's files
	Config    string // krb5.conf clients use (KRB5_CONFIG)
	KDCAddr   string // 127.0.0.1:PORT (TCP and UDP)
	AdminAddr string // kadmind 127.0.0.1:PORT, when Kadmind

	profile    string // kdc.conf (KRB5_KDC_PROFILE)
	alsoListen []string
}

// ConfigFor is a krb5.conf for clients that reach the KDC at ip (one of
// Options.AlsoListen).
func (k *KDC) ConfigFor(ip string) string {
	_, port, _ := net.SplitHostPort(k.KDCAddr)
	return fmt.Sprintf("[libdefaults]\n\tdefault_realm = %[1]s\n\tdns_lookup_kdc = false\n\tdns_lookup_realm = false\n\trdns = false\n\tdns_canonicalize_hostname = false\n\n[realms]\n\t%[1]s = {\n\t\tkdc = %[2]s\n\t}\n",
		k.Realm, net.JoinHostPort(ip, port))
}

// Env is the environment a krb5 tool needs to use this realm and nothing of
// the host's: append it to os.Environ() (later entries win). Besides
// KRB5_CONFIG and KRB5_KDC_PROFILE it points the default ccache and the
// replay cache into Dir, so a tool run without -c touches no host file.
func (k *KDC) Env() []string {
	return []string{
		"KRB5_CONFIG=" + k.Config,
		"KRB5_KDC_PROFILE=" + k.profile,
		"KRB5CCNAME=FILE:" + filepath.Join(k.Dir, "default.ccache"),
		"KRB5RCACHEDIR=" + k.Dir,
	}
}

// Command is the krb5 tool name (from /usr/sbin or /usr/bin) with Env set.
func (k *KDC) Command(name string, args ...string) *exec.Cmd {
	path, err := tool(name)
	if err != nil {
		path = name // exec reports it missing when run
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), k.Env()...)
	return cmd
}

// installHint is the fix for a missing krb5 binary.
const installHint = "install krb5-kdc krb5-admin-server krb5-user (scripts/install-deps)"

// tool finds a krb5 binary where Debian's packages put them, not on PATH:
// a krb5 build elsewhere on PATH would not match the daemons.
func tool(name string) (string, error) {
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in /usr/sbin or /usr/bin: %s", name, installHint)
}

// randomPassword is a throwaway secret (master key, readiness principal).
func randomPassword(t testing.TB) string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
