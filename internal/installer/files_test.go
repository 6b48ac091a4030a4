package installer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/token"
)

// testTrust makes real public material. The keyring is two hand-made
// packets: a public key (tag 6) and a user ID (tag 13), old and new format.
func testTrust(t *testing.T) Trust {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "clusterca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return Trust{
		ClusterCA:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		SSHUserCA:  strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " ssh-user CA",
		AptURL:     "https://apt.example.org/homeworld",
		AptKeyring: []byte{0x99, 0x00, 0x03, 4, 5, 6, 0xcd, 0x02, 'h', 'w'},
	}
}

func files(t *testing.T, trust Trust) map[string]File {
	t.Helper()
	c := parse(t, testSetup)
	fs, err := Files(c, c.Nodes[2], trust)
	if err != nil {
		t.Fatalf("Files: %v", err)
	}
	out := map[string]File{}
	for i, f := range fs {
		if i > 0 && fs[i-1].Path >= f.Path {
			t.Errorf("files not sorted: %s before %s", fs[i-1].Path, f.Path)
		}
		out[f.Path] = f
	}
	return out
}

func TestFiles(t *testing.T) {
	trust := testTrust(t)
	fs := files(t, trust)
	want := map[string]string{
		"homeworld/keyserver.domain": "supervisor.cluster.example.org",
		"homeworld/keyservertls.pem": string(trust.ClusterCA),
		"homeworld/ssh_user_ca.pub":  trust.SSHUserCA + "\n",
		"homeworld/vlan":             "12\n",
		"homeworld/apt-url":          "https://apt.example.org/homeworld\n",
		"homeworld/apt-keyring.gpg":  string(trust.AptKeyring),
		"homeworld/hosts": "10.20.0.80\tmirror.example.org # AUTO-HOMEWORLD-BOOTSTRAP\n" +
			"10.20.0.10\tsupervisor # AUTO-HOMEWORLD-BOOTSTRAP\n" +
			"10.20.0.10\tsupervisor.cluster.example.org # AUTO-HOMEWORLD-BOOTSTRAP\n" +
			"10.20.0.21\tmaster1 # AUTO-HOMEWORLD-BOOTSTRAP\n" +
			"10.20.0.21\tmaster1.cluster.example.org # AUTO-HOMEWORLD-BOOTSTRAP\n" +
			"10.20.1.31\tworker1 # AUTO-HOMEWORLD-BOOTSTRAP\n" +
			"10.20.1.31\tworker1.cluster.example.org # AUTO-HOMEWORLD-BOOTSTRAP\n" +
			"10.20.0.10\thomeworld.private # AUTO-HOMEWORLD-BOOTSTRAP\n",
	}
	for path, data := range want {
		if got := string(fs[path].Data); got != data {
			t.Errorf("%s = %q, want %q", path, got, data)
		}
	}
	if p := fs["preseed.cfg"]; !strings.Contains(string(p.Data), "get_ipaddress string 10.20.1.31\n") {
		t.Errorf("preseed.cfg is not worker1's:\n%s", p.Data)
	}
	if len(fs) != len(want)+1 {
		t.Errorf("%d files, want %d", len(fs), len(want)+1)
	}
	for _, f := range fs {
		if f.Mode != 0o644 {
			t.Errorf("%s has mode %v", f.Path, f.Mode)
		}
	}

	trust.AptURL, trust.AptKeyring = "", nil
	if fs := files(t, trust); fs["homeworld/apt-url"].Path != "" || fs["homeworld/apt-keyring.gpg"].Path != "" {
		t.Error("apt files without an apt branch")
	}
}

func TestFilesDeterministic(t *testing.T) {
	trust := testTrust(t)
	a, b := files(t, trust), files(t, trust)
	for path, f := range a {
		if !bytes.Equal(f.Data, b[path].Data) {
			t.Errorf("%s differs between runs", path)
		}
	}
}

// The ISO is handed around unencrypted: nothing on it may be a key or a
// bootstrap token.
func TestFilesHoldNoSecret(t *testing.T) {
	tokenRun := regexp.MustCompile(`[A-Za-z0-9+/]+`)
	for path, f := range files(t, testTrust(t)) {
		if bytes.Contains(f.Data, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a private key", path)
		}
		for _, run := range tokenRun.FindAllString(string(f.Data), -1) {
			if _, err := token.Check(run); err == nil {
				t.Errorf("%s holds what looks like a bootstrap token: %s", path, run)
			}
		}
	}
}

func TestFilesRefuseSecrets(t *testing.T) {
	c := parse(t, testSetup)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	for name, edit := range map[string]func(*Trust){
		"key in CA bundle":   func(tr *Trust) { tr.ClusterCA = append(tr.ClusterCA, keyPEM...) },
		"no CA":              func(tr *Trust) { tr.ClusterCA = nil },
		"two ssh lines":      func(tr *Trust) { tr.SSHUserCA += "\n" + tr.SSHUserCA },
		"ssh line not a key": func(tr *Trust) { tr.SSHUserCA = "ssh-ed25519 nope" },
		"secret keyring":     func(tr *Trust) { tr.AptKeyring = []byte{0x95, 0x00, 0x01, 0} },
		"armored keyring":    func(tr *Trust) { tr.AptKeyring = []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----") },
		"url without ring":   func(tr *Trust) { tr.AptKeyring = nil },
		"url not http":       func(tr *Trust) { tr.AptURL = "ftp://apt.example.org" },
		"url with newline":   func(tr *Trust) { tr.AptURL = "https://apt.example.org\nx" },
	} {
		trust := testTrust(t)
		edit(&trust)
		if _, err := Files(c, c.Nodes[0], trust); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestHostsDuplicate(t *testing.T) {
	text := strings.Replace(testSetup, "  mirror.example.org: 10.20.0.80\n", "  mirror.example.org: 10.20.0.80\n  master1.cluster.example.org: 10.20.0.99\n", 1)
	_, err := Hosts(parse(t, text))
	if err == nil || !strings.Contains(err.Error(), `nodes[1].hostname: "master1.cluster.example.org" is also named by dns-bootstrap.master1.cluster.example.org`) {
		t.Errorf("Hosts with a duplicate name: %v", err)
	}
}
