package hostsetup

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/remote"
	"homeworld.dev/homeworld/internal/remote/remotetest"
	"homeworld.dev/homeworld/internal/setupqueue"
)

// connect starts a real sshd on loopback and logs in to it as root.
func connect(t *testing.T) *remote.Client {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sshd := remotetest.Start(t, remotetest.Options{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	h := remote.Host{Name: "testhost", Addr: sshd.Addr}
	c, err := remote.Dial(context.Background(), h, remote.Config{Signers: []ssh.Signer{signer},
		HostKeys: remote.HostKeys{Fingerprints: map[string][]string{"testhost": {remote.Fingerprint(sshd.HostKey)}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Preflight passes on a Debian machine with room and names the shortfall
// otherwise, before anything is written.
func TestPreflight(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	if err := Preflight(ctx, c); err != nil {
		t.Fatalf("preflight on this machine: %v", err)
	}
	defer func(old int64) { MinFreeBytes = old }(MinFreeBytes)
	MinFreeBytes = 1 << 60
	err := Preflight(ctx, c)
	if err == nil || !strings.Contains(err.Error(), "MiB free on /") || !strings.Contains(err.Error(), "free some space and run again") {
		t.Errorf("preflight wanting an exabyte: %v", err)
	}
}

// Put reports a change only when content or mode changes.
func TestPutIsIdempotent(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	dir := t.TempDir()
	files := []File{{Path: path.Join(dir, "a"), Data: []byte("one"), Mode: 0o644}, {Path: path.Join(dir, "sub/b"), Data: []byte("secret"), Mode: 0o600}}
	for i, want := range []bool{true, false} {
		changed, err := Put(ctx, c, files)
		if err != nil || changed != want {
			t.Fatalf("put #%d: changed %v, %v; want %v", i+1, changed, err, want)
		}
	}
	if st, err := os.Stat(files[1].Path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("secret file: %v %v", st.Mode(), err)
	}
	files[0].Mode = 0o640
	if changed, err := Put(ctx, c, files); err != nil || !changed {
		t.Errorf("a mode change: changed %v, %v", changed, err)
	}
}

// Enqueue writes items the setup queue takes, in order, and refuses a
// manifest the queue would refuse; WaitApplied reads the queue's audit log
// on the host and names what is still waiting.
func TestEnqueueOverSSH(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Enqueue(ctx, c, dir, []Manifest{{Name: "bad", Text: "not: a kubernetes object\n"}}); err == nil {
		t.Error("a manifest without apiVersion and kind was queued")
	}
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: default\n"
	items, err := Enqueue(ctx, c, dir, []Manifest{{Name: "first", Text: cm}, {Name: "second", Text: cm}})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := setupqueue.Pending(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pending {
		names = append(names, p.File)
	}
	if got := strings.Join(names, " "); !strings.Contains(got, items[0]+" "+items[1]) {
		t.Errorf("queue holds %q, want %v in order", got, items)
	}
	if st, err := os.Stat(path.Join(dir, items[0])); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("item: %v %v", st, err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := WaitApplied(short, c, dir, items); err == nil || !strings.Contains(err.Error(), items[0]) {
		t.Errorf("waiting for items no queue applies: %v", err)
	}
}

// slowReads is a real host whose reads start only once ctx has ended, as
// when a wait's deadline passes during a slow read over SSH.
type slowReads struct{ Host }

func (s slowReads) ReadFile(ctx context.Context, path string) ([]byte, error) {
	<-ctx.Done()
	return s.Host.ReadFile(ctx, path)
}

// TestWaitAppliedNamesWhatWaitsWhenAReadIsCut: a deadline that passes
// during a read of the queue's audit log still answers with the items not
// applied, not with the interrupted read.
func TestWaitAppliedNamesWhatWaitsWhenAReadIsCut(t *testing.T) {
	c := connect(t)
	dir := t.TempDir()
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: default\n"
	items, err := Enqueue(context.Background(), c, dir, []Manifest{{Name: "only", Text: cm}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = WaitApplied(ctx, slowReads{c}, dir, items)
	if err == nil || !strings.Contains(err.Error(), "has not applied "+items[0]) {
		t.Errorf("a wait cut during a read = %v, want it to name %s as not applied", err, items[0])
	}
}
