package remote

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func authorizedKey(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// entries leans on x/crypto's knownhosts to match host patterns; this pins
// down that it sorts every kind of line OpenSSH writes.
func TestKnownHostsEntries(t *testing.T) {
	t.Parallel()
	var k [6]ssh.PublicKey
	for i := range k {
		k[i] = newSigner(t).PublicKey()
	}
	ca := newSigner(t).PublicKey()
	path := writeKnownHosts(t,
		"# a comment, then a blank line",
		"",
		"node1.example "+authorizedKey(k[0]),
		"@cert-authority *.example "+authorizedKey(ca)+" homeworld:example",
		"[node1.example]:2222 "+authorizedKey(k[1]),
		knownhosts.HashHostname("node3.example")+" "+authorizedKey(k[2]),
		"other,10.0.0.9 "+authorizedKey(k[3]),
		"@revoked * "+authorizedKey(k[4]),
		"not a valid line",
	)
	known, err := loadKnownHosts(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name        string
		plain, auth []ssh.PublicKey
	}{
		{"node1.example:" + sshPort, []ssh.PublicKey{k[0]}, []ssh.PublicKey{ca}},
		{"node1.example:2222", []ssh.PublicKey{k[1]}, nil},
		{"node3.example:" + sshPort, []ssh.PublicKey{k[2]}, []ssh.PublicKey{ca}},
		{"10.0.0.9:" + sshPort, []ssh.PublicKey{k[3]}, nil},
		{"node9.example:" + sshPort, nil, []ssh.PublicKey{ca}},
		{"stranger:" + sshPort, nil, nil},
	} {
		plain, auth, err := known.entries(c.name)
		if err != nil {
			t.Fatalf("entries(%s): %v", c.name, err)
		}
		if !sameKeys(plain, c.plain) || !sameKeys(auth, c.auth) {
			t.Errorf("entries(%s) = %d keys, %d authorities; want %d, %d", c.name, len(plain), len(auth), len(c.plain), len(c.auth))
		}
	}
	if !known.revoked(k[4]) || known.revoked(k[0]) {
		t.Error("revoked keys are not told apart")
	}
}

func TestMissingKnownHostsListsNothing(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"", t.TempDir() + "/none"} {
		known, err := loadKnownHosts(path)
		if err != nil {
			t.Fatal(err)
		}
		if plain, auth, err := known.entries("node1:" + sshPort); err != nil || len(plain)+len(auth) != 0 {
			t.Errorf("%q: entries = %d, %d, %v", path, len(plain), len(auth), err)
		}
	}
}

// A host's known key type is asked for first, so a host with several keys
// shows the known one rather than one that would look like a change.
func TestAlgorithmsPreferKnownKeys(t *testing.T) {
	t.Parallel()
	h := Host{Name: "node1", Addr: "127.0.0.1:" + sshPort}
	edKey := newSigner(t).PublicKey()
	v, err := newVerifier(h, HostKeys{KnownHosts: writeKnownHosts(t, knownHostsLine(h, edKey))})
	if err != nil {
		t.Fatal(err)
	}
	algos, err := v.algorithms()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ssh.CertAlgoED25519v01, ssh.KeyAlgoED25519}
	if len(algos) != len(ssh.SupportedAlgorithms().HostKeys) || !slices.Equal(algos[:2], want) {
		t.Errorf("algorithms = %q, want %q first, then the rest", algos, want)
	}
	v, _ = newVerifier(Host{Name: "stranger", Addr: h.Addr}, v.keys)
	if algos, err := v.algorithms(); err != nil || algos != nil {
		t.Errorf("algorithms for an unknown host = %q, %v; want the defaults (nil)", algos, err)
	}
}

func sameKeys(a, b []ssh.PublicKey) bool {
	return slices.EqualFunc(a, b, keyEqual)
}
