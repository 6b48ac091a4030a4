package krb5test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRealmIssuesTickets(t *testing.T) {
	k := Start(t, Options{MaxLife: time.Hour})
	k.AddPrincipal(t, "alice", "correct horse")
	k.AddService(t, "HTTP/gateway.homeworld.test")

	ccache := k.Kinit(t, "alice", "correct horse")
	k.Kvno(t, ccache, "HTTP/gateway.homeworld.test")
	out, err := k.Command("klist", "-c", ccache).CombinedOutput()
	if err != nil {
		t.Fatalf("klist: %v\n%s", err, out)
	}
	for _, want := range []string{"alice@HOMEWORLD.TEST", "krbtgt/HOMEWORLD.TEST@HOMEWORLD.TEST", "HTTP/gateway.homeworld.test@HOMEWORLD.TEST"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("klist does not show %s:\n%s", want, out)
		}
	}

	// The service's exported keys get it its own TGT.
	kt := filepath.Join(t.TempDir(), "http.keytab")
	k.Keytab(t, kt, "HTTP/gateway.homeworld.test")
	k.KinitKeytab(t, "HTTP/gateway.homeworld.test", kt)

	bad := k.Command("kinit", "-c", filepath.Join(t.TempDir(), "ccache"), "alice")
	bad.Stdin = strings.NewReader("wrong horse\n")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "incorrect") {
		t.Errorf("kinit with a wrong password: err %v, output %q; want a failure saying the password is incorrect", err, out)
	}
}

func TestMaxLifeAndLoopbackOnly(t *testing.T) {
	k := Start(t, Options{Realm: "OTHER.TEST", MaxLife: 2 * time.Minute})
	k.AddPrincipal(t, "bob", "bob's password")
	ccache := k.Kinit(t, "bob", "bob's password", "-l", "1h")
	cmd := k.Command("klist", "-c", ccache)
	cmd.Env = append(cmd.Env, "LC_ALL=C") // klist's dates follow the locale
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("klist: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "bob@OTHER.TEST") {
		t.Errorf("klist does not show bob@OTHER.TEST:\n%s", out)
	}
	// The TGT lives max_life, not the hour asked for.
	if life := tgtLife(t, string(out), "krbtgt/OTHER.TEST@OTHER.TEST"); life != 2*time.Minute {
		t.Errorf("TGT life %v, want max_life 2m0s:\n%s", life, out)
	}
	conf, err := os.ReadFile(filepath.Join(k.Dir, "kdc.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), "max_life = 120s") {
		t.Errorf("kdc.conf lacks max_life = 120s:\n%s", conf)
	}
	for _, line := range strings.Split(string(conf), "\n") {
		if strings.Contains(line, "listen") && !strings.Contains(line, "= 127.0.0.1:") {
			t.Errorf("kdc.conf listens beyond loopback: %q", line)
		}
	}
}

func TestKadmind(t *testing.T) {
	k := Start(t, Options{Kadmind: true})
	if k.AdminAddr == "" {
		t.Fatal("no AdminAddr with Kadmind")
	}
	k.AddPrincipal(t, "root/admin", "admin password")
	out, err := k.Command("kadmin", "-p", "root/admin", "-w", "admin password", "-q", "addprinc -randkey host/node.homeworld.test").CombinedOutput()
	if err != nil {
		t.Fatalf("kadmin through kadmind: %v\n%s", err, out)
	}
	if got := k.KadminLocal(t, "getprinc host/node.homeworld.test"); !strings.Contains(got, "Principal: host/node.homeworld.test@HOMEWORLD.TEST") {
		t.Errorf("the principal added through kadmind is not in the database:\n%s", got)
	}
}

// tgtLife reads the ticket's "Valid starting" and "Expires" columns from
// klist's output in the C locale.
func tgtLife(t *testing.T, klist, service string) time.Duration {
	t.Helper()
	for _, line := range strings.Split(klist, "\n") {
		f := strings.Fields(line)
		if len(f) != 5 || f[4] != service {
			continue
		}
		const layout = "01/02/06 15:04:05"
		start, err1 := time.Parse(layout, f[0]+" "+f[1])
		end, err2 := time.Parse(layout, f[2]+" "+f[3])
		if err1 != nil || err2 != nil {
			t.Fatalf("klist line %q: %v %v", line, err1, err2)
		}
		return end.Sub(start)
	}
	t.Fatalf("klist shows no %s:\n%s", service, klist)
	return 0
}

func TestTakenPortIsRetryable(t *testing.T) {
	o := Options{}
	k, password := create(t, &o)
	l, err := net.Listen("tcp", k.KDCAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = k.startDaemons(t, false, password)
	if !errors.Is(err, errPortTaken) || !strings.Contains(err.Error(), "Address already in use") {
		t.Fatalf("krb5kdc on a taken port: %v; want errPortTaken with the log tail", err)
	}
	// New ports, as Start picks after that error, bring the realm up.
	k.configure(t, o)
	if err := k.startDaemons(t, false, password); err != nil {
		t.Fatal(err)
	}
	k.AddPrincipal(t, "carol", "carol's password")
	k.Kinit(t, "carol", "carol's password")
}
