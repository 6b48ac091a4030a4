package remote

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/remote/remotetest"
)

func TestUnknownHostIsRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	kh := filepath.Join(t.TempDir(), "known_hosts")
	_, err := Dial(context.Background(), s.host, Config{Signers: []ssh.Signer{s.admin}, Timeout: testTimeout,
		HostKeys: HostKeys{KnownHosts: kh, HowToVouch: "pass --host-key node1=FINGERPRINT"}})
	var hostKeyErr *HostKeyError
	if !errors.Is(err, ErrHostKeyUnknown) || !errors.As(err, &hostKeyErr) {
		t.Fatalf("Dial = %v, want ErrHostKeyUnknown", err)
	}
	fp := Fingerprint(s.sshd.HostKey)
	if hostKeyErr.Offered != fp {
		t.Errorf("offered %s, want %s", hostKeyErr.Offered, fp)
	}
	wantContains(t, "error", err.Error(), "node1 ("+s.sshd.Addr+")", fp, "--host-key node1=FINGERPRINT", "ssh-keygen -lf")
	if content := readFile(t, kh); content != "" {
		t.Errorf("a refused host was recorded:\n%s", content)
	}
}

// A host whose key the operator vouched for is trusted, and its key
// recorded, so the next connection needs no vouching.
func TestVouchedHostIsRecorded(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	kh := filepath.Join(t.TempDir(), "known_hosts")
	cfg := Config{Signers: []ssh.Signer{s.admin}, Timeout: testTimeout, HostKeys: HostKeys{KnownHosts: kh,
		Fingerprints: map[string][]string{"node1": {"SHA256:someoneelse", Fingerprint(s.sshd.HostKey)}}}}
	c := s.dial(t, cfg)
	if out, err := c.Run(context.Background(), "echo ok", nil); err != nil || string(out) != "ok\n" {
		t.Fatalf("Run = %q, %v", out, err)
	}
	if want := knownHostsLine(s.host, s.sshd.HostKey) + "\n"; readFile(t, kh) != want {
		t.Fatalf("known_hosts:\n%s\nwant:\n%s", readFile(t, kh), want)
	}
	cfg.HostKeys.Fingerprints = nil
	s.dial(t, cfg)
	if strings.Count(readFile(t, kh), "\n") != 1 {
		t.Errorf("a known host was recorded again:\n%s", readFile(t, kh))
	}
}

// Vouching by address works as by name, and the other lines of
// known_hosts are kept.
func TestVouchedByAddressKeepsOtherLines(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	other := knownHostsLine(Host{Name: "elsewhere"}, newSigner(t).PublicKey())
	kh := writeKnownHosts(t, "# the admin's own", other)
	s.dial(t, Config{Signers: []ssh.Signer{s.admin}, Timeout: testTimeout, HostKeys: HostKeys{KnownHosts: kh,
		Fingerprints: map[string][]string{"127.0.0.1": {Fingerprint(s.sshd.HostKey)}}}})
	want := "# the admin's own\n" + other + "\n" + knownHostsLine(s.host, s.sshd.HostKey) + "\n"
	if got := readFile(t, kh); got != want {
		t.Errorf("known_hosts:\n%s\nwant:\n%s", got, want)
	}
}

func TestConfirmDecidesAboutUnknownHosts(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	kh := filepath.Join(t.TempDir(), "known_hosts")
	var asked []string
	answer := false
	cfg := Config{Signers: []ssh.Signer{s.admin}, Timeout: testTimeout, HostKeys: HostKeys{KnownHosts: kh,
		Confirm: func(h Host, fp string) (bool, error) {
			asked = append(asked, h.Name+" "+fp)
			return answer, nil
		}}}
	if _, err := Dial(context.Background(), s.host, cfg); !errors.Is(err, ErrHostKeyUnknown) {
		t.Fatalf("Dial with a refusing Confirm = %v, want ErrHostKeyUnknown", err)
	}
	if readFile(t, kh) != "" {
		t.Fatal("a key the operator refused was recorded")
	}
	answer = true
	s.dial(t, cfg)
	s.dial(t, cfg) // known now: not asked again
	if want := "node1 " + Fingerprint(s.sshd.HostKey); len(asked) != 2 || asked[0] != want || asked[1] != want {
		t.Errorf("asked %q, want %q twice", asked, want)
	}
	if readFile(t, kh) != knownHostsLine(s.host, s.sshd.HostKey)+"\n" {
		t.Errorf("known_hosts:\n%s", readFile(t, kh))
	}
	cfg.HostKeys.Confirm = func(Host, string) (bool, error) { return false, errors.New("no terminal") }
	cfg.HostKeys.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
	if _, err := Dial(context.Background(), s.host, cfg); err == nil || !strings.Contains(err.Error(), "no terminal") {
		t.Errorf("Dial with a failing Confirm = %v", err)
	}
}

// A host whose key differs from the one known_hosts lists is refused with
// both fingerprints, even if the new key is vouched for: the operator must
// remove the old line on purpose.
func TestChangedHostKeyIsRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, "supervisor", remotetest.Options{})
	old := newSigner(t).PublicKey()
	kh := writeKnownHosts(t, knownHostsLine(s.host, old))
	before := readFile(t, kh)
	_, err := Dial(context.Background(), s.host, Config{Signers: []ssh.Signer{s.admin}, Timeout: testTimeout,
		HostKeys: HostKeys{KnownHosts: kh, Fingerprints: map[string][]string{"supervisor": {Fingerprint(s.sshd.HostKey)}},
			Confirm: func(Host, string) (bool, error) { t.Error("asked about a changed key"); return true, nil }}})
	var hostKeyErr *HostKeyError
	if !errors.Is(err, ErrHostKeyChanged) || !errors.As(err, &hostKeyErr) {
		t.Fatalf("Dial = %v, want ErrHostKeyChanged", err)
	}
	wantContains(t, "error", err.Error(), "supervisor ("+s.sshd.Addr+"): host key CHANGED",
		"known "+Fingerprint(old), "offered "+Fingerprint(s.sshd.HostKey), kh, "pull-supervisor-key")
	if len(hostKeyErr.Known) != 1 || hostKeyErr.Known[0] != Fingerprint(old) {
		t.Errorf("Known = %q", hostKeyErr.Known)
	}
	if readFile(t, kh) != before {
		t.Error("known_hosts changed")
	}
}

func TestRevokedHostKeyIsRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, "node1", remotetest.Options{})
	kh := writeKnownHosts(t, knownHostsLine(s.host, s.sshd.HostKey), "@revoked * "+authorizedKey(s.sshd.HostKey))
	_, err := Dial(context.Background(), s.host, Config{Signers: []ssh.Signer{s.admin}, Timeout: testTimeout, HostKeys: HostKeys{KnownHosts: kh}})
	if !errors.Is(err, ErrHostKeyRevoked) {
		t.Fatalf("Dial = %v, want ErrHostKeyRevoked", err)
	}
}

// hostCA is a host authority trusted for [*.example]:port, as spire's
// "@cert-authority *.domain" line trusts it for port 22.
func hostCA(t *testing.T) (ssh.Signer, func(port string) string) {
	ca := newSigner(t)
	return ca, func(port string) string {
		return fmt.Sprintf("@cert-authority [*.example]:%s %s", port, authorizedKey(ca.PublicKey()))
	}
}

// A host certificate from a trusted authority is enough; one that names
// another host is refused, whatever else vouches for the key.
func TestHostCertificateFromTrustedAuthority(t *testing.T) {
	t.Parallel()
	ca, caLine := hostCA(t)
	s := startServer(t, "node1.example", remotetest.Options{HostCA: ca, HostPrincipals: []string{"node1.example", "node1"}})
	kh := writeKnownHosts(t, caLine(s.host.port()))
	cfg := Config{Signers: []ssh.Signer{s.admin}, Timeout: testTimeout, HostKeys: HostKeys{KnownHosts: kh}}
	c := s.dial(t, cfg)
	if out, err := c.Run(context.Background(), "echo ok", nil); err != nil || string(out) != "ok\n" {
		t.Fatalf("Run = %q, %v", out, err)
	}

	other := Host{Name: "node2.example", Addr: s.host.Addr}
	cfg.HostKeys.Fingerprints = map[string][]string{"node2.example": {Fingerprint(s.sshd.HostKey)}}
	_, err := Dial(context.Background(), other, cfg)
	var hostKeyErr *HostKeyError
	if !errors.Is(err, ErrHostCertRefused) || !errors.As(err, &hostKeyErr) {
		t.Fatalf("Dial as another name = %v, want ErrHostCertRefused", err)
	}
	wantContains(t, "error", err.Error(), "node2.example ("+s.sshd.Addr+")", `principal "node2.example" not in`,
		"node1.example,node1", Fingerprint(ca.PublicKey()))
	if readFile(t, kh) != caLine(s.host.port())+"\n" {
		t.Errorf("known_hosts changed:\n%s", readFile(t, kh))
	}
}

// A certificate from an authority known_hosts does not trust for the host
// proves nothing: the key it certifies is judged as a plain key.
func TestHostCertificateFromUntrustedAuthority(t *testing.T) {
	t.Parallel()
	ca := newSigner(t)
	s := startServer(t, "node1.example", remotetest.Options{HostCA: ca, HostPrincipals: []string{"node1.example"}})
	_, otherCALine := hostCA(t)
	kh := writeKnownHosts(t, otherCALine(s.host.port()))
	cfg := Config{Signers: []ssh.Signer{s.admin}, Timeout: testTimeout, HostKeys: HostKeys{KnownHosts: kh}}
	_, err := Dial(context.Background(), s.host, cfg)
	var hostKeyErr *HostKeyError
	if !errors.Is(err, ErrHostKeyUnknown) || !errors.As(err, &hostKeyErr) || hostKeyErr.Offered != Fingerprint(s.sshd.HostKey) {
		t.Fatalf("Dial = %v, want ErrHostKeyUnknown offering the certified key", err)
	}
	cfg.HostKeys.KnownHosts = writeKnownHosts(t, otherCALine(s.host.port()), knownHostsLine(s.host, s.sshd.HostKey))
	s.dial(t, cfg)
}

// Hosts vouched for in parallel each get their line: the file is replaced
// under a lock, not raced.
func TestParallelVouchingRecordsEveryHost(t *testing.T) {
	t.Parallel()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	var servers []server
	fingerprints := map[string][]string{}
	for i := range 4 {
		s := startServer(t, fmt.Sprintf("node%d", i), remotetest.Options{})
		servers = append(servers, s)
		fingerprints[s.host.Name] = []string{Fingerprint(s.sshd.HostKey)}
	}
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			c, err := Dial(context.Background(), s.host, Config{Signers: []ssh.Signer{s.admin}, Timeout: testTimeout,
				HostKeys: HostKeys{KnownHosts: kh, Fingerprints: fingerprints}})
			if err != nil {
				t.Error(err)
				return
			}
			c.Close()
		})
	}
	wg.Wait()
	content := readFile(t, kh)
	for _, s := range servers {
		if !strings.Contains(content, knownHostsLine(s.host, s.sshd.HostKey)+"\n") {
			t.Errorf("known_hosts lacks %s:\n%s", s.host.Name, content)
		}
	}
}

func TestScanHostKeys(t *testing.T) {
	t.Parallel()
	ca, _ := hostCA(t)
	s := startServer(t, "node1.example", remotetest.Options{HostCA: ca, HostPrincipals: []string{"node1.example"}})
	keys, err := ScanHostKeys(context.Background(), s.host, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !keyEqual(keys[0], s.sshd.HostKey) {
		t.Errorf("scanned %d keys, want the host's Ed25519 key %s", len(keys), Fingerprint(s.sshd.HostKey))
	}
	_, err = ScanHostKeys(context.Background(), Host{Name: "gone", Addr: remotetest.ClosedAddr(t)}, testTimeout)
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("ScanHostKeys of a closed port = %v, want ErrUnreachable", err)
	}
}
