package installer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/hostsetup"
	"homeworld.dev/homeworld/internal/pki"
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
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return Trust{
		ClusterCA:  cert,
		SSHUserCA:  strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " ssh-user CA",
		AptURL:     "https://apt.example.org/homeworld/",
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
		"homeworld/root/etc/homeworld/config/keyserver.domain":    "supervisor.cluster.example.org",
		"homeworld/root/etc/homeworld/keyclient/keyservertls.pem": string(pki.EncodeCert(trust.ClusterCA)),
		"homeworld/root/etc/ssh/ssh_user_ca.pub":                  trust.SSHUserCA + "\n",
		"homeworld/root/usr/share/keyrings/homeworld-stable.gpg":  string(trust.AptKeyring),
		"homeworld/root/etc/apt/sources.list.d/homeworld-stable.list": "# Homeworld apt branch stable, from the homeworld-apt-setup package.\n" +
			"deb [signed-by=/usr/share/keyrings/homeworld-stable.gpg] https://apt.example.org/homeworld/ stable main\n",
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
	sshd := string(fs["homeworld/root/etc/ssh/sshd_config.d/homeworld.conf"].Data)
	if !strings.Contains(sshd, "TrustedUserCAKeys /etc/ssh/ssh_user_ca.pub\n") || !strings.Contains(sshd, "PasswordAuthentication no\n") {
		t.Errorf("sshd drop-in:\n%s", sshd)
	}
	for _, script := range []string{"early-command.sh", "prepartition.sh", "late-command.sh", "install.sh", "ask-token.sh"} {
		if f := fs["homeworld/"+script]; f.Mode != 0o755 || len(f.Data) == 0 {
			t.Errorf("%s: mode %v, %d bytes", script, f.Mode, len(f.Data))
		}
	}
	if f := fs["homeworld/templates"]; !strings.Contains(string(f.Data), "Template: homeworld/asktoken\nType: password\n") {
		t.Errorf("templates:\n%s", f.Data)
	}

	trust.AptURL, trust.AptKeyring = "", nil
	for path := range files(t, trust) {
		if strings.Contains(path, "apt") || strings.Contains(path, "keyrings") {
			t.Errorf("%s without an apt branch", path)
		}
	}
}

// node.env, read by the shell the scripts run in, says what each kind of
// node installs, enables and asks.
func TestNodeEnv(t *testing.T) {
	c := parse(t, testSetup)
	trust := testTrust(t)
	env := func(n config.Node, trust Trust) map[string]string {
		t.Helper()
		fs, err := Files(c, n, trust)
		if err != nil {
			t.Fatal(err)
		}
		var data []byte
		for _, f := range fs {
			if f.Path == "homeworld/node.env" {
				data = f.Data
			}
		}
		cmd := exec.Command("sh", "-c", `set -eu; . "$1"; printf '%s\n' "$NODE_HOSTNAME" "$NODE_FQDN" "$NODE_KIND" "$PACKAGES" "$UNITS" "$DISPLACED" "$ASK_TOKEN" "$KEYCLIENT" "$TOKEN_FILE" "$APT_URL"`, "sh", writeTemp(t, data))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sourcing node.env: %v\n%s", err, data)
		}
		lines := strings.Split(string(out), "\n")
		names := []string{"NODE_HOSTNAME", "NODE_FQDN", "NODE_KIND", "PACKAGES", "UNITS", "DISPLACED", "ASK_TOKEN", "KEYCLIENT", "TOKEN_FILE", "APT_URL"}
		m := map[string]string{}
		for i, name := range names {
			m[name] = lines[i]
		}
		return m
	}
	worker := env(c.Nodes[2], trust)
	units, _ := hostsetup.Units(c, c.Nodes[2])
	for name, want := range map[string]string{
		"NODE_HOSTNAME": "worker1", "NODE_FQDN": "worker1.cluster.example.org", "NODE_KIND": "worker",
		"PACKAGES": "homeworld-worker", "UNITS": strings.Join(units, " "), "ASK_TOKEN": "yes",
		"KEYCLIENT": "/usr/lib/homeworld/bin/keyclient", "TOKEN_FILE": "/etc/homeworld/keyclient/bootstrap.token",
		"APT_URL": trust.AptURL,
	} {
		if worker[name] != want {
			t.Errorf("worker1: %s = %q, want %q", name, worker[name], want)
		}
	}
	if !strings.Contains(worker["UNITS"], "keyclient.service") {
		t.Errorf("worker1 does not enable the keyclient: %q", worker["UNITS"])
	}
	// The supervisor installs its packages but is admitted by spire seq
	// supervisor, which also enables its units.
	sup := env(c.Nodes[0], trust)
	if sup["PACKAGES"] != "homeworld-supervisor" || sup["UNITS"] != "" || sup["ASK_TOKEN"] != "no" {
		t.Errorf("supervisor: %v", sup)
	}
	// Without a branch nothing is installed, so nothing can check a token.
	trust.AptURL, trust.AptKeyring = "", nil
	if bare := env(c.Nodes[2], trust); bare["PACKAGES"] != "" || bare["UNITS"] != "" || bare["ASK_TOKEN"] != "no" {
		t.Errorf("worker1 without a branch: %v", bare)
	}
}

// The scripts run under the installer's busybox sh and Debian's dash: both
// must parse them.
func TestScriptsParse(t *testing.T) {
	for _, sh := range [][]string{{"dash", "-n"}, {"busybox", "sh", "-n"}} {
		if _, err := exec.LookPath(sh[0]); err != nil {
			t.Fatalf("%s is not installed (scripts/install-deps installs it)", sh[0])
		}
		for path, f := range files(t, testTrust(t)) {
			if !strings.HasSuffix(path, ".sh") {
				continue
			}
			if out, err := exec.Command(sh[0], append(sh[1:], writeTemp(t, f.Data))...).CombinedOutput(); err != nil {
				t.Errorf("%s %s: %v\n%s", strings.Join(sh, " "), path, err, out)
			}
		}
	}
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
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
	for name, edit := range map[string]func(*Trust){
		"no CA":              func(tr *Trust) { tr.ClusterCA = nil },
		"CA not a CA":        func(tr *Trust) { tr.ClusterCA = &x509.Certificate{} },
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
