package usergrant

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/kubetest"
	"homeworld.dev/homeworld/internal/supervise"
	"homeworld.dev/homeworld/internal/testutil"
)

// testKDC is a real MIT KDC (krb5kdc) on loopback for one test, with its
// database, configuration and log in a folder of its own: the machine's
// /etc/krb5.conf and /etc/krb5kdc are never read. What the test needs of
// it is a krb5.conf (Conf), keytabs and ticket caches from real kinit.
type testKDC struct {
	Realm string
	Conf  string // krb5.conf for clients (KRB5_CONFIG)
	dir   string
	env   []string
}

// startKDC creates realm's database and runs krb5kdc until t ends; names
// in domain map to the realm.
func startKDC(t *testing.T, realm, domain string) *testKDC {
	t.Helper()
	for _, tool := range []string{"kdb5_util", "krb5kdc", "kadmin.local", "kinit"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (apt-get install krb5-kdc krb5-admin-server krb5-user): %v", tool, err)
		}
	}
	dir := t.TempDir()
	k := &testKDC{Realm: realm, Conf: filepath.Join(dir, "krb5.conf"), dir: dir}
	port := kubetest.FreePort(t)
	kdcConf := filepath.Join(dir, "kdc.conf")
	k.env = append(os.Environ(), "KRB5_CONFIG="+k.Conf, "KRB5_KDC_PROFILE="+kdcConf, "KRB5CCNAME=FILE:"+filepath.Join(dir, "unused.ccache"))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// TCP only (udp_preference_limit = 1): a free TCP port says nothing
	// of UDP. No DNS: names are taken as written.
	write(t, k.Conf, fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
	default_ccache_name = FILE:%[3]s/default.ccache
[realms]
	%[1]s = {
		kdc = %[2]s
	}
[domain_realm]
	%[4]s = %[1]s
	.%[4]s = %[1]s
`, realm, addr, dir, domain))
	log := filepath.Join(dir, "kdc.log")
	write(t, kdcConf, fmt.Sprintf(`[kdcdefaults]
	kdc_listen = %[2]s
	kdc_tcp_listen = %[2]s
[realms]
	%[1]s = {
		database_name = %[3]s/principal
		key_stash_file = %[3]s/stash
		acl_file = %[3]s/kadm5.acl
		max_life = 10h
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
	}
[logging]
	kdc = FILE:%[4]s
`, realm, addr, dir, log))
	write(t, filepath.Join(dir, "kadm5.acl"), "")
	k.run(t, "", "kdb5_util", "create", "-s", "-r", realm, "-P", "test-master-password")

	cmd := exec.Command("krb5kdc", "-n", "-r", realm)
	cmd.Env = k.env
	out, err := os.Create(filepath.Join(dir, "krb5kdc.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); out.Close(); close(exited) }()
	t.Cleanup(func() {
		supervise.Stop(supervise.Process{PID: cmd.Process.Pid, Group: true, Exited: exited}, 5*time.Second)
		if t.Failed() {
			logText, _ := os.ReadFile(log)
			t.Logf("krb5kdc's log:\n%s", logText)
		}
	})
	testutil.WaitFor(t, 30*time.Second, "krb5kdc to commence", func() (bool, error) {
		select {
		case <-exited:
			data, _ := os.ReadFile(filepath.Join(dir, "krb5kdc.out"))
			t.Fatalf("krb5kdc exited: %s", data)
		default:
		}
		data, err := os.ReadFile(log)
		return bytes.Contains(data, []byte("commencing operation")), err
	})
	return k
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

// run runs an MIT tool in the KDC's environment with stdin.
func (k *testKDC) run(t *testing.T, stdin string, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = k.env
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

func (k *testKDC) kadmin(t *testing.T, query string) {
	t.Helper()
	k.run(t, "", "kadmin.local", "-r", k.Realm, "-q", query)
}

// addUser adds principal (without realm) with password.
func (k *testKDC) addUser(t *testing.T, principal, password string) {
	t.Helper()
	k.kadmin(t, fmt.Sprintf("addprinc -pw %s %s@%s", password, principal, k.Realm))
}

// addService adds principal (without realm) with a random key and writes
// the key to keytab.
func (k *testKDC) addService(t *testing.T, principal, keytab string) {
	t.Helper()
	k.kadmin(t, fmt.Sprintf("addprinc -randkey %s@%s", principal, k.Realm))
	if err := os.MkdirAll(filepath.Dir(keytab), 0o755); err != nil {
		t.Fatal(err)
	}
	k.kadmin(t, fmt.Sprintf("ktadd -norandkey -k %s %s@%s", keytab, principal, k.Realm))
}

// kinit logs principal in with its password (on kinit's standard input)
// and returns the ticket cache.
func (k *testKDC) kinit(t *testing.T, principal, password string) string {
	t.Helper()
	ccache := filepath.Join(k.dir, strings.ReplaceAll(principal, "/", "_")+".ccache")
	k.run(t, password+"\n", "kinit", "-c", "FILE:"+ccache, principal+"@"+k.Realm)
	return ccache
}
