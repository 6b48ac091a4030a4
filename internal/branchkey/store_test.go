package branchkey

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/disaster"
)

func disasterKey(t *testing.T) *disaster.Key {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disaster.key")
	if err := disaster.Generate(path); err != nil {
		t.Fatal(err)
	}
	k, err := disaster.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	k.SetWorkFactor(10)
	return k
}

// oldWorkspace makes a workspace whose authorities predate branch-signing.
func oldWorkspace(t *testing.T, key *disaster.Key) string {
	t.Helper()
	ws := t.TempDir()
	set, err := authority.Generate("Homeworld test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := authority.NewStore(ws).Create(context.Background(), set, key, false); err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestCreatedWithTheOthers(t *testing.T) {
	key := disasterKey(t)
	ws := t.TempDir()
	set, err := authority.Generate("Homeworld test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k := newKey(t)
	if err := authority.NewStore(ws).Create(context.Background(), set, key, false, Stage(k)); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(ws, key)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Fingerprint() != k.Fingerprint() || !loaded.HasPrivate() {
		t.Errorf("loaded %s (private %v), want %s", loaded.Fingerprint(), loaded.HasPrivate(), k.Fingerprint())
	}
	st, err := os.Stat(filepath.Join(Dir(ws), SealedName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("sealed key: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	// The keyserver's view of the authorities does not include it.
	all, err := authority.NewStore(ws).Load(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := all.Get(Name); err == nil {
		t.Error("the keyserver's authority set holds branch-signing")
	}
}

func TestAddToOldWorkspace(t *testing.T) {
	key := disasterKey(t)
	ws := oldWorkspace(t, key)
	_, err := LoadPublic(ws)
	if err == nil || !strings.Contains(err.Error(), "`"+AddCommand+"`") {
		t.Fatalf("LoadPublic of an old workspace: %v; want the error to name %q", err, AddCommand)
	}

	wrong := disasterKey(t)
	if err := Add(context.Background(), ws, newKey(t), wrong); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("Add with a wrong disaster key: %v", err)
	}
	if _, err := os.Stat(Dir(ws)); !os.IsNotExist(err) {
		t.Fatalf("a refused Add left %s behind", Dir(ws))
	}

	k := newKey(t)
	if err := Add(context.Background(), ws, k, key); err != nil {
		t.Fatal(err)
	}
	if err := Add(context.Background(), ws, newKey(t), key); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second Add: %v; want a refusal", err)
	}
	if _, err := Load(ws, wrong); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("Load with a wrong disaster key: %v", err)
	}
	loaded, err := Load(ws, key)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Fingerprint() != k.Fingerprint() {
		t.Error("Add stored another key")
	}
	entries, _ := os.ReadDir(authority.NewStore(ws).Dir())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("Add left %s behind", e.Name())
		}
	}
}

func TestAddNeedsAuthorities(t *testing.T) {
	err := Add(context.Background(), t.TempDir(), newKey(t), disasterKey(t))
	if err == nil || !strings.Contains(err.Error(), "spire authority gen") {
		t.Errorf("Add without authorities: %v", err)
	}
}

func TestMismatchedHalvesRefused(t *testing.T) {
	key := disasterKey(t)
	ws := oldWorkspace(t, key)
	if err := Add(context.Background(), ws, newKey(t), key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(Dir(ws), KeyringName), newKey(t).Keyring(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ws, key); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("Load with a swapped public key: %v", err)
	}
}
