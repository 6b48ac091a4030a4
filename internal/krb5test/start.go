package krb5test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/testutil"
)

const (
	// portAttempts bounds the retries when another process takes a port
	// between freePorts and the daemon's bind.
	portAttempts = 5
	// readyTimeout is generous: the daemons start in milliseconds, but a
	// loaded CI machine may be slow to schedule them.
	readyTimeout = 30 * time.Second
	// readyPrincipal is kinit'ed (and, with kadmind, asks kadmind about
	// itself) to decide the realm is up.
	readyPrincipal = "krb5test-ready"
)

// errPortTaken means a daemon could not bind a port picked for it.
var errPortTaken = errors.New("a port was taken before the daemon could bind it")

// Start creates a realm in a temp dir and runs its daemons until t ends.
// It fails t, with the daemons' log tails, if they do not come up.
func Start(t testing.TB, o Options) *KDC {
	t.Helper()
	k, readyPassword := create(t, &o)
	for attempt := 1; ; attempt++ {
		err := k.startDaemons(t, o.Kadmind, readyPassword)
		if err == nil {
			return k
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			t.Fatalf("starting realm %s in %s: %v", k.Realm, k.Dir, err)
		}
		t.Logf("krb5test: %v; retrying with new ports", err)
		k.configure(t, o)
	}
}

// create writes the realm's configuration and database, filling in o's
// defaults, and returns the password of the principal that proves the
// daemons serve.
func create(t testing.TB, o *Options) (*KDC, string) {
	t.Helper()
	if o.Realm == "" {
		o.Realm = "HOMEWORLD.TEST"
	}
	if o.MaxLife == 0 {
		o.MaxLife = 10 * time.Hour
	}
	for _, name := range []string{"krb5kdc", "kdb5_util", "kadmin.local", "kinit", "klist", "kvno", "kadmind", "kadmin"} {
		if _, err := tool(name); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	k := &KDC{
		Realm:   o.Realm,
		Dir:     dir,
		Config:  filepath.Join(dir, "krb5.conf"),
		profile: filepath.Join(dir, "kdc.conf"),
	}
	k.configure(t, *o)
	if out, err := k.Command("kdb5_util", "create", "-s", "-r", k.Realm, "-P", randomPassword(t)).CombinedOutput(); err != nil {
		t.Fatalf("kdb5_util create: %v\n%s", err, out)
	}
	readyPassword := randomPassword(t)
	k.AddPrincipal(t, readyPrincipal, readyPassword)
	return k, readyPassword
}

// configure picks ports and writes the configuration for them.
func (k *KDC) configure(t testing.TB, o Options) {
	t.Helper()
	n := 1
	if o.Kadmind {
		n = 3
	}
	ps, err := freePorts(n)
	if err != nil {
		t.Fatalf("picking loopback ports: %v", err)
	}
	p := ports{kdc: ps[0]}
	if o.Kadmind {
		p.kadmind, p.kpasswd = ps[1], ps[2]
	}
	if err := k.writeConfig(p, o.MaxLife); err != nil {
		t.Fatal(err)
	}
}

// startDaemons runs krb5kdc (and kadmind) and waits until they serve. On
// failure the daemons started are stopped again.
func (k *KDC) startDaemons(t testing.TB, kadmind bool, readyPassword string) (err error) {
	t.Helper()
	var started []*daemon
	defer func() {
		if err != nil {
			for _, d := range started {
				d.stop()
			}
			return
		}
		t.Cleanup(func() {
			for _, d := range started {
				d.stop()
			}
		})
	}()
	kdc, err := k.spawn("krb5kdc", filepath.Join(k.Dir, "krb5kdc.log"), "commencing operation", "-n", "-r", k.Realm)
	if err != nil {
		return err
	}
	started = append(started, kdc)
	if err := k.await(t, kdc, k.KDCAddr, func() error {
		if out, err := k.kinit(filepath.Join(k.Dir, "ready.ccache"), readyPrincipal, readyPassword); err != nil {
			return fmt.Errorf("kinit: %v: %s", err, out)
		}
		return nil
	}); err != nil {
		return err
	}
	if !kadmind {
		return nil
	}
	adm, err := k.spawn("kadmind", filepath.Join(k.Dir, "kadmind.log"), "starting", "-nofork", "-r", k.Realm)
	if err != nil {
		return err
	}
	started = append(started, adm)
	return k.await(t, adm, k.AdminAddr, func() error {
		// A principal may always read its own entry: this proves kadmind
		// authenticates clients through the KDC and answers.
		out, err := k.Command("kadmin", "-p", readyPrincipal, "-w", readyPassword, "-q", "getprinc "+readyPrincipal).CombinedOutput()
		if err == nil && !strings.Contains(string(out), "Principal: "+readyPrincipal+"@") {
			err = errors.New("no principal in its answer")
		}
		if err != nil {
			return fmt.Errorf("kadmin getprinc: %v: %s", err, out)
		}
		return nil
	})
}

// await waits until d logs that it serves, having bound its ports, and
// check passes, or d exits. The log line comes first so that check never
// talks to another process that took one of d's ports.
func (k *KDC) await(t testing.TB, d *daemon, addr string, check func() error) error {
	t.Helper()
	var last error
	testutil.WaitFor(t, readyTimeout, d.name+" to serve on "+addr+" (logs in "+k.Dir+")", func() (bool, error) {
		if d.exited() {
			return true, nil
		}
		if !d.logged() {
			return false, fmt.Errorf("no %q in its log yet", d.ready)
		}
		last = check()
		return last == nil, last
	})
	if !d.exited() {
		return nil
	}
	tail := d.logTail()
	if strings.Contains(tail, "Address already in use") {
		return fmt.Errorf("%s on %s: %w\n%s", d.name, addr, errPortTaken, tail)
	}
	return fmt.Errorf("%s exited (%v) before serving on %s; last check: %v\n%s", d.name, d.waitErr, addr, last, tail)
}
