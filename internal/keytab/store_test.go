package keytab

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"homeworld.dev/homeworld/internal/disaster"
	"homeworld.dev/homeworld/internal/krb5test"
)

func TestStoreSealsAndRoundTrips(t *testing.T) {
	_, data := realmKeytab(t, krb5test.Options{})
	ws := t.TempDir()
	key := testKey(t)

	entries, err := Store(ws, "supervisor", data, key, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 {
		t.Errorf("Store returned %d entries, want 4", len(entries))
	}
	path := SealedPath(ws, "supervisor")
	if path != filepath.Join(ws, "keytab.supervisor.crypt") {
		t.Errorf("SealedPath = %s", path)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("sealed keytab: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	sealed, _ := os.ReadFile(path)
	for _, k := range keys(t, data) {
		if bytes.Contains(sealed, k) {
			t.Fatal("the sealed keytab holds a key in clear")
		}
	}
	if got, err := Unseal(ws, "supervisor", key); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Unseal: %v; same bytes: %v", err, bytes.Equal(got, data))
	}
	if nodes, err := Nodes(ws); err != nil || len(nodes) != 1 || nodes[0] != "supervisor" {
		t.Errorf("Nodes = %v, %v", nodes, err)
	}

	// Not replaced without asking, and replaced (still 0600) when asked.
	if _, err := Store(ws, "supervisor", data, key, false); !errors.Is(err, ErrExists) {
		t.Errorf("second Store: %v, want ErrExists", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Store(ws, "supervisor", data, key, true); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("replaced keytab has mode %v, want 0600", st.Mode().Perm())
	}

	// Export writes it back in clear, 0600, only over a file if asked.
	out := filepath.Join(t.TempDir(), "out.keytab")
	if err := Export(ws, "supervisor", key, out, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Error("Export does not round-trip")
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("exported keytab has mode %v, want 0600", st.Mode().Perm())
	}
	if err := Export(ws, "supervisor", key, out, false); !errors.Is(err, os.ErrExist) {
		t.Errorf("Export over a file: %v, want os.ErrExist", err)
	}
	if err := Export(ws, "supervisor", key, out, true); err != nil {
		t.Errorf("Export --force: %v", err)
	}
}

func TestStoreRefusesBadInput(t *testing.T) {
	_, data := realmKeytab(t, krb5test.Options{})
	ws := t.TempDir()
	key := testKey(t)
	if _, err := Store(ws, "supervisor", []byte("not a keytab"), key, false); err == nil {
		t.Error("Store took a file that is no keytab")
	}
	if _, err := Store(ws, "../supervisor", data, key, false); err == nil {
		t.Error("Store took a node name with a path in it")
	}
	if _, err := Unseal(ws, "supervisor", key); !errors.Is(err, ErrNone) {
		t.Errorf("Unseal with nothing stored: %v, want ErrNone", err)
	}
	if left, _ := os.ReadDir(ws); len(left) != 0 {
		t.Errorf("refused input left %v in the workspace", left)
	}

	if _, err := Store(ws, "supervisor", data, key, false); err != nil {
		t.Fatal(err)
	}
	other := testKey(t)
	if _, err := Unseal(ws, "supervisor", other); !errors.Is(err, disaster.ErrWrongKey) {
		t.Errorf("Unseal with another disaster key: %v, want ErrWrongKey", err)
	}
	// Every keytab is sealed with the cluster's one key.
	if _, err := Store(ws, "master1", data, other, false); !errors.Is(err, disaster.ErrWrongKey) {
		t.Errorf("Store with a key that does not open the stored keytabs: %v, want ErrWrongKey", err)
	}
	if _, err := os.Stat(SealedPath(ws, "master1")); !os.IsNotExist(err) {
		t.Errorf("Store with the wrong key wrote a keytab (%v)", err)
	}
}
