package keytab

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gokeytab "github.com/jcmturner/gokrb5/v8/keytab"

	"homeworld.dev/homeworld/internal/disaster"
	"homeworld.dev/homeworld/internal/krb5test"
)

const (
	httpPrinc = "HTTP/supervisor.cluster.example.org"
	hostPrinc = "host/supervisor.cluster.example.org"
)

// realmKeytab starts a realm with the supervisor's two services and returns
// it with their exported keytab.
func realmKeytab(t *testing.T, o krb5test.Options) (*krb5test.KDC, []byte) {
	t.Helper()
	k := krb5test.Start(t, o)
	k.AddService(t, httpPrinc)
	k.AddService(t, hostPrinc)
	path := filepath.Join(t.TempDir(), "supervisor.keytab")
	k.Keytab(t, path, httpPrinc, hostPrinc)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return k, data
}

// keys are the raw keys in a keytab, to check they leak nowhere.
func keys(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var kt gokeytab.Keytab
	if err := kt.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range kt.Entries {
		out = append(out, e.Key.KeyValue)
	}
	return out
}

func testKey(t *testing.T) *disaster.Key {
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

func TestParseRealKeytab(t *testing.T) {
	_, data := realmKeytab(t, krb5test.Options{})
	entries, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	want := "HTTP/supervisor.cluster.example.org@HOMEWORLD.TEST kvno 1\nhost/supervisor.cluster.example.org@HOMEWORLD.TEST kvno 1\n"
	if got := Versions(entries); got != want {
		t.Errorf("Versions = %q, want %q", got, want)
	}
	var types []string
	for _, e := range entries {
		types = append(types, e.Enctype)
		if e.Timestamp.IsZero() {
			t.Errorf("entry %+v has no timestamp", e)
		}
	}
	if got := strings.Join(types, " "); got != "aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96" {
		t.Errorf("enctypes %s, want the realm's AES ones for each principal", got)
	}
}

func TestParseRefusesWhatIsNoKeytab(t *testing.T) {
	_, data := realmKeytab(t, krb5test.Options{})
	for name, in := range map[string][]byte{
		"empty":        nil,
		"text":         []byte("HTTP/supervisor@REALM\n"),
		"version 1":    append([]byte{5, 1}, data[2:]...),
		"no entries":   {5, 2},
		"first cut":    data[:20],
		"half":         data[:len(data)/2+3],
		"long entry":   append([]byte{5, 2, 0, 0, 1, 0}, data[6:]...),
		"zero lengths": append([]byte{5, 2}, make([]byte, 64)...),
	} {
		_, err := Parse(in)
		if err == nil {
			t.Errorf("%s: Parse succeeded", name)
			continue
		}
		for _, k := range keys(t, data) {
			if strings.Contains(err.Error(), string(k)) {
				t.Errorf("%s: the error quotes a key: %v", name, err)
			}
		}
	}
	// No cut or flipped byte crashes it.
	for i := range data {
		Parse(data[:i])
		flipped := bytes.Clone(data)
		flipped[i] ^= 0xff
		Parse(flipped)
	}
}
