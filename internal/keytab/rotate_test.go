package keytab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/krb5test"
)

// emptyDir fails t if dir, where keytabs were in clear, holds anything.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("%s holds %v (%v); the keytab in clear was not removed", dir, left, err)
	}
}

func TestRotateThenDeleteOld(t *testing.T) {
	k, data := realmKeytab(t, krb5test.Options{Kadmind: true})
	k.AddPrincipal(t, "alice", "alice's password")
	ws, key := t.TempDir(), testKey(t)
	if _, err := Store(ws, "supervisor", data, key, false); err != nil {
		t.Fatal(err)
	}
	tl := Tools{Env: append(os.Environ(), k.Env()...), TempDir: t.TempDir()}
	ctx := context.Background()

	c, err := tl.Rotate(ctx, ws, "supervisor", key)
	if err != nil {
		t.Fatal(err)
	}
	emptyDir(t, tl.TempDir)
	want := "HTTP/supervisor.cluster.example.org@HOMEWORLD.TEST kvno 1,2\nhost/supervisor.cluster.example.org@HOMEWORLD.TEST kvno 1,2\n"
	if got := Versions(c.After); got != want {
		t.Errorf("after Rotate: %q, want %q", got, want)
	}
	if got := k.KadminLocal(t, "getprinc "+httpPrinc); !strings.Contains(got, "vno 2, aes256-cts-hmac-sha1-96") {
		t.Errorf("the realm does not have the new key:\n%s", got)
	}
	// The stored keytab decrypts tickets the realm now issues, for
	// both principals, and gets each its own TGT.
	out := filepath.Join(t.TempDir(), "rotated.keytab")
	if err := Export(ws, "supervisor", key, out, false); err != nil {
		t.Fatal(err)
	}
	cc := k.Kinit(t, "alice", "alice's password")
	for _, p := range []string{httpPrinc, hostPrinc} {
		if b, err := k.Command("kvno", "-c", cc, "-k", out, p).CombinedOutput(); err != nil {
			t.Errorf("kvno -k with the rotated keytab for %s: %v\n%s", p, err, b)
		}
		k.KinitKeytab(t, p, out)
	}

	c, err = tl.DeleteOld(ctx, ws, "supervisor", key)
	if err != nil {
		t.Fatal(err)
	}
	emptyDir(t, tl.TempDir)
	if got, want := Versions(c.After), strings.ReplaceAll(want, "1,2", "2"); got != want {
		t.Errorf("after DeleteOld: %q, want %q", got, want)
	}
	if stored, err := List(ws, "supervisor", key); err != nil || len(stored) != 4 {
		t.Errorf("stored keytab after DeleteOld: %d entries (%v), want 4", len(stored), err)
	}
	// Nothing old left: nothing to do, and no error.
	if c, err := tl.DeleteOld(ctx, ws, "supervisor", key); err != nil || len(c.After) != 4 {
		t.Errorf("DeleteOld with no old keys: %v, %d entries", err, len(c.After))
	}
}

func TestRotateKeepsWhatChangedWhenAPrincipalFails(t *testing.T) {
	k, data := realmKeytab(t, krb5test.Options{Kadmind: true})
	ws, key := t.TempDir(), testKey(t)
	if _, err := Store(ws, "supervisor", data, key, false); err != nil {
		t.Fatal(err)
	}
	// Someone changed HTTP/'s key in the realm: the keytab's key can no
	// longer authenticate to kadmind for it, but host/'s still can.
	k.KadminLocal(t, "cpw -randkey "+httpPrinc)
	tl := Tools{Env: append(os.Environ(), k.Env()...), TempDir: t.TempDir()}

	c, err := tl.Rotate(context.Background(), ws, "supervisor", key)
	if err == nil || !strings.Contains(err.Error(), httpPrinc+"@HOMEWORLD.TEST (still kvno 1); the keys it did change are saved") {
		t.Fatalf("Rotate: %v; want an error naming HTTP/ and saying host/'s new key is kept", err)
	}
	if !strings.Contains(err.Error(), "Incorrect password") {
		t.Errorf("the error does not show k5srvutil's output: %v", err)
	}
	emptyDir(t, tl.TempDir)
	stored, lerr := List(ws, "supervisor", key)
	if lerr != nil || Newest(stored)[hostPrinc+"@HOMEWORLD.TEST"] != 2 || Versions(stored) != Versions(c.After) {
		t.Errorf("stored keytab after a partial rotation (%v):\n%s", lerr, Versions(stored))
	}
}
