package authority_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/disaster"
	"homeworld.dev/homeworld/internal/keyapi"
)

func newKey(t *testing.T, pass string) *disaster.Key {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disaster.key")
	if err := os.WriteFile(path, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := disaster.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	k.SetWorkFactor(10)
	return k
}

func generate(t *testing.T) *authority.Set {
	t.Helper()
	set, err := authority.Generate("Homeworld test.example.org", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// snapshot records every file below dir: path, mode and content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		content := ""
		if d.Type().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			content = string(b)
		}
		out[rel] = fmt.Sprintf("%v %s", info.Mode(), content)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshot(t *testing.T, before, after map[string]string) {
	t.Helper()
	if reflect.DeepEqual(before, after) {
		return
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("new file %s", k)
		}
	}
	for k, v := range before {
		if w, ok := after[k]; !ok {
			t.Errorf("file %s disappeared", k)
		} else if v != w {
			t.Errorf("file %s changed", k)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	ws := t.TempDir()
	key := newKey(t, "the right disaster passphrase")
	set := generate(t)
	store := authority.NewStore(ws)
	if err := store.Create(context.Background(), set, key, false); err != nil {
		t.Fatal(err)
	}
	loaded, err := store.Load(key)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.List) != 8 {
		t.Fatalf("loaded %d authorities, want 8", len(loaded.List))
	}
	for i, a := range loaded.List {
		orig := set.List[i]
		if a.Name != orig.Name {
			t.Fatalf("authority %d = %s, want %s", i, a.Name, orig.Name)
		}
		if a.Signer == nil {
			t.Errorf("%s: no signer after Load", a.Name)
			continue
		}
		switch a.Type {
		case authority.SSH:
			if _, ok := a.Signer.(ed25519.PrivateKey); !ok {
				t.Errorf("%s: key is %T, want Ed25519", a.Name, a.Signer)
			}
			if !bytes.Equal(a.SSHKey.Marshal(), orig.SSHKey.Marshal()) {
				t.Errorf("%s: public key changed in round trip", a.Name)
			}
		case authority.TLS:
			k, ok := a.Signer.(*ecdsa.PrivateKey)
			if !ok || k.Curve.Params().Name != "P-256" {
				t.Errorf("%s: key is %T, want ECDSA P-256", a.Name, a.Signer)
			}
			if !a.Cert.Equal(orig.Cert) {
				t.Errorf("%s: certificate changed in round trip", a.Name)
			}
			checkCert(t, a)
		}
	}
	if ks, err := loaded.Get(keyapi.Keygranting); err != nil || ks.Type != authority.TLS {
		t.Errorf("Get(keygranting) = %v, %v", ks, err)
	}
	if _, err := loaded.Get("nonexistent"); err == nil {
		t.Error("Get(nonexistent) found an authority")
	}
}

func checkCert(t *testing.T, a *authority.Authority) {
	t.Helper()
	c := a.Cert
	if c.Subject.CommonName != "homeworld "+string(a.Name)+" authority" || len(c.Subject.Organization) != 1 {
		t.Errorf("%s: subject %v", a.Name, c.Subject)
	}
	if life := c.NotAfter.Sub(c.NotBefore); life < 20*365*24*time.Hour {
		t.Errorf("%s: lifetime %v, want at least 20 years", a.Name, life)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Errorf("%s: not self-signed: %v", a.Name, err)
	}
	if a.CA {
		if !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero || c.KeyUsage&x509.KeyUsageCertSign == 0 {
			t.Errorf("%s: CA constraints wrong: IsCA=%v MaxPathLen=%d usage=%b", a.Name, c.IsCA, c.MaxPathLen, c.KeyUsage)
		}
	} else if c.IsCA || c.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Errorf("%s: signer must not be a CA", a.Name)
	}
}

func TestNoPlaintextPrivateKeyOnDisk(t *testing.T) {
	ws := t.TempDir()
	key := newKey(t, "the right disaster passphrase")
	set := generate(t)
	store := authority.NewStore(ws)
	if err := store.Create(context.Background(), set, key, false); err != nil {
		t.Fatal(err)
	}
	var secrets [][]byte
	for _, a := range set.List {
		der, err := x509.MarshalPKCS8PrivateKey(a.Signer)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, der)
		switch k := a.Signer.(type) {
		case ed25519.PrivateKey:
			secrets = append(secrets, k.Seed())
		case *ecdsa.PrivateKey:
			raw, err := k.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, raw)
		}
	}
	files := 0
	err := filepath.WalkDir(ws, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a PEM private key", path)
		}
		for _, s := range secrets {
			if bytes.Contains(data, s) {
				t.Errorf("%s holds private key material in clear", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != 9 {
		t.Errorf("workspace holds %d files, want 8 public halves + 1 sealed bundle", files)
	}
	st, err := os.Stat(filepath.Join(store.Dir(), authority.SealedName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("sealed bundle: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
}

func TestWrongKeyChangesNothing(t *testing.T) {
	ws := t.TempDir()
	right := newKey(t, "the right disaster passphrase")
	wrong := newKey(t, "a wrong disaster passphrase")
	store := authority.NewStore(ws)
	if err := store.Create(context.Background(), generate(t), right, false); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, ws)
	if _, err := store.Load(wrong); !errors.Is(err, disaster.ErrWrongKey) {
		t.Errorf("Load with wrong key = %v, want ErrWrongKey", err)
	}
	err := store.Create(context.Background(), generate(t), wrong, true)
	if !errors.Is(err, disaster.ErrWrongKey) || !strings.Contains(err.Error(), "refusing to replace") {
		t.Errorf("forced Create with wrong key = %v, want refusal", err)
	}
	sameSnapshot(t, before, snapshot(t, ws))
}

func TestRefusesToOverwrite(t *testing.T) {
	ws := t.TempDir()
	key := newKey(t, "the right disaster passphrase")
	store := authority.NewStore(ws)
	if err := store.Create(context.Background(), generate(t), key, false); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, ws)
	if err := store.Create(context.Background(), generate(t), key, false); !errors.Is(err, authority.ErrExists) {
		t.Fatalf("second Create = %v, want ErrExists", err)
	}
	sameSnapshot(t, before, snapshot(t, ws))

	fresh := generate(t)
	if err := store.Create(context.Background(), fresh, key, true); err != nil {
		t.Fatalf("forced Create: %v", err)
	}
	loaded, err := store.Load(key)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.List[0].Cert.Equal(fresh.List[0].Cert) {
		t.Error("forced Create did not replace the authorities")
	}
	entries, _ := os.ReadDir(ws)
	if len(entries) != 1 || entries[0].Name() != authority.DirName {
		t.Errorf("workspace after replace holds %v, want only %s", entries, authority.DirName)
	}
}

// TestInterruptedCreate fails Create after each staged file, for a fresh
// workspace and for a forced replacement, and checks the workspace is as it was.
func TestInterruptedCreate(t *testing.T) {
	stages := []string{"keygranting.pem", "ssh-user.pub", "serviceaccount.pem", authority.SealedName}
	for _, replace := range []bool{false, true} {
		for _, stage := range stages {
			t.Run(fmt.Sprintf("replace=%v/after=%s", replace, stage), func(t *testing.T) {
				ws := t.TempDir()
				key := newKey(t, "the right disaster passphrase")
				store := authority.NewStore(ws)
				if replace {
					if err := store.Create(context.Background(), generate(t), key, false); err != nil {
						t.Fatal(err)
					}
				}
				before := snapshot(t, ws)
				boom := errors.New("simulated crash")
				hit := false
				store.SetStepHook(func(s string) error {
					if s == stage {
						hit = true
						return boom
					}
					return nil
				})
				if err := store.Create(context.Background(), generate(t), key, replace); !errors.Is(err, boom) {
					t.Fatalf("Create = %v, want the simulated failure", err)
				}
				if !hit {
					t.Fatalf("stage %s never reached", stage)
				}
				sameSnapshot(t, before, snapshot(t, ws))
			})
		}
	}
}

func TestCancelledCreate(t *testing.T) {
	ws := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := authority.NewStore(ws).Create(ctx, generate(t), newKey(t, "the right disaster passphrase"), false)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Create = %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(ws); len(entries) != 0 {
		t.Errorf("cancelled Create left %v", entries)
	}
}

func TestStaleStagingRemoved(t *testing.T) {
	ws := t.TempDir()
	stale := filepath.Join(ws, ".authorities-staging-123")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := authority.NewStore(ws).Create(context.Background(), generate(t), newKey(t, "the right disaster passphrase"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale staging folder still there: %v", err)
	}
}

func TestTamperedPublicHalfDetected(t *testing.T) {
	ws := t.TempDir()
	key := newKey(t, "the right disaster passphrase")
	store := authority.NewStore(ws)
	if err := store.Create(context.Background(), generate(t), key, false); err != nil {
		t.Fatal(err)
	}
	// Swap in another cluster's kubernetes CA certificate.
	other := t.TempDir()
	if err := authority.NewStore(other).Create(context.Background(), generate(t), key, false); err != nil {
		t.Fatal(err)
	}
	foreign, _ := os.ReadFile(filepath.Join(other, authority.DirName, "kubernetes.pem"))
	if err := os.WriteFile(filepath.Join(store.Dir(), "kubernetes.pem"), foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load(key); err == nil || !strings.Contains(err.Error(), "does not match kubernetes.pem") {
		t.Errorf("Load = %v, want mismatch error", err)
	}
}

func TestSummaries(t *testing.T) {
	for _, a := range generate(t).List {
		s := a.Summarize()
		if !strings.HasPrefix(s.Fingerprint, "SHA256:") {
			t.Errorf("%s fingerprint %q", a.Name, s.Fingerprint)
		}
		switch a.Type {
		case authority.SSH:
			if s.Algorithm != "Ed25519" || s.NotAfter != nil {
				t.Errorf("%s: %+v", a.Name, s)
			}
		case authority.TLS:
			if s.Algorithm != "ECDSA P-256" || s.NotAfter == nil || !s.NotAfter.After(time.Now().AddDate(20, 0, 0)) {
				t.Errorf("%s: %+v", a.Name, s)
			}
		}
	}
}

func TestUnsealedRoundTrip(t *testing.T) {
	set := generate(t)
	dir := filepath.Join(t.TempDir(), "keyserver", "authorities")
	if err := set.WriteUnsealed(dir); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v, want 0700", st.Mode().Perm())
	}
	for _, a := range set.List {
		st, err := os.Stat(filepath.Join(dir, string(a.Name)+".key"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s.key: %v mode %v", a.Name, err, st.Mode().Perm())
		}
	}
	loaded, err := authority.LoadUnsealed(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range loaded.List {
		if a.Signer == nil || !a.Signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(set.List[i].Signer.Public()) {
			t.Errorf("%s: key differs after round trip", a.Name)
		}
	}
}
