package installer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/config"
)

const testSetup = `cluster:
  external-domain: cluster.example.org
  internal-domain: cluster.internal
  etcd-token: test-token
  kerberos-realm: EXAMPLE.ORG
  mirror: mirror.example.org/debian
vlan: 12
addresses:
  cidr-nodes: 10.20.0.0/22
  cidr-pods: 172.18.0.0/16
  cidr-services: 172.28.0.0/16
  service-api: 172.28.0.1
  service-dns: 172.28.0.2
dns-upstreams: [10.20.0.53, 10.20.0.54]
dns-bootstrap:
  mirror.example.org: 10.20.0.80
root-admins:
  - alice@EXAMPLE.ORG
nodes:
  - {hostname: supervisor, ip: 10.20.0.10, kind: supervisor}
  - {hostname: master1, ip: 10.20.0.21, kind: master}
  - {hostname: worker1, ip: 10.20.1.31, kind: worker}
`

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	c, _, err := config.Parse("setup.yaml", []byte(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func preseed(t *testing.T, text, node string) string {
	t.Helper()
	c := parse(t, text)
	n, ok := c.FindNode(node)
	if !ok {
		t.Fatalf("no node %s", node)
	}
	out, err := Preseed(c, n, Options{Source: []byte(text)})
	if err != nil {
		t.Fatalf("Preseed: %v", err)
	}
	return string(out)
}

// debconf-set-selections is what d-i's preseed loader is built on; with
// --checkonly it refuses a malformed line without touching any database.
func TestPreseedChecksOut(t *testing.T) {
	out := preseed(t, testSetup, "worker1")
	path := filepath.Join(t.TempDir(), "preseed.cfg")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("debconf-set-selections", "--checkonly", path)
	if msg, err := cmd.CombinedOutput(); err != nil || len(msg) != 0 {
		t.Fatalf("debconf-set-selections --checkonly: %v\n%s\n%s", err, msg, out)
	}
	// And the check does catch a broken line.
	if err := os.WriteFile(path, []byte(out+"d-i netcfg/get_domain\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("debconf-set-selections", "--checkonly", path).Run(); err == nil {
		t.Error("debconf-set-selections --checkonly accepts a line without a type")
	}
}

func TestPreseedLines(t *testing.T) {
	out := preseed(t, testSetup, "worker1")
	lines := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		lines[l] = true
	}
	for _, want := range []string{
		"d-i netcfg/disable_autoconfig boolean true",
		"d-i netcfg/get_ipaddress string 10.20.1.31",
		"d-i netcfg/get_netmask string 255.255.252.0",
		"d-i netcfg/get_gateway string 10.20.0.1",
		"d-i netcfg/get_nameservers string 10.20.0.53 10.20.0.54",
		"d-i netcfg/confirm_static boolean true",
		"d-i netcfg/get_hostname string worker1",
		"d-i netcfg/hostname string worker1",
		"d-i netcfg/get_domain string cluster.example.org",
		"d-i mirror/country string manual",
		"d-i mirror/http/hostname string mirror.example.org",
		"d-i mirror/http/directory string /debian",
		"d-i mirror/http/proxy string",
		"d-i passwd/make-user boolean false",
		"d-i passwd/root-password-crypted password !",
		"d-i time/zone string Etc/UTC",
		"d-i partman-auto/method string regular",
		"d-i grub-installer/bootdev string default",
		"tasksel tasksel/first multiselect ssh-server",
		"d-i pkgsel/include string openssl curl ca-certificates gnupg",
		"krb5-config krb5-config/default_realm string EXAMPLE.ORG",
		"d-i preseed/late_command string sh /homeworld/late-command.sh",
	} {
		if !lines[want] {
			t.Errorf("preseed lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "passwd/root-password ") || strings.Contains(out, "passwd/user") {
		t.Errorf("preseed sets a password or user:\n%s", out)
	}
}

func TestPreseedWithoutRealm(t *testing.T) {
	text := strings.Replace(testSetup, "kerberos-realm: EXAMPLE.ORG", `kerberos-realm: ""`, 1)
	text = strings.Replace(text, "alice@EXAMPLE.ORG", "alice", 1)
	if out := preseed(t, text, "master1"); strings.Contains(out, "krb5") {
		t.Errorf("preseed without a realm mentions Kerberos:\n%s", out)
	}
}

func TestPreseedDeterministic(t *testing.T) {
	if a, b := preseed(t, testSetup, "master1"), preseed(t, testSetup, "master1"); a != b {
		t.Errorf("two runs differ:\n%s\n%s", a, b)
	}
}

func TestPreseedRefusals(t *testing.T) {
	noMirror := strings.Replace(testSetup, "  mirror: mirror.example.org/debian\n", "", 1)
	c := parse(t, noMirror)
	_, err := Preseed(c, c.Nodes[1], Options{File: "site/setup.yaml", Source: []byte(noMirror)})
	if err == nil || !strings.HasPrefix(err.Error(), "site/setup.yaml:2:3: cluster.mirror: is required") {
		t.Errorf("without a mirror: %v", err)
	}

	c = parse(t, testSetup)
	stranger := config.Node{Hostname: "worker9", IP: "10.20.0.99", Kind: config.KindWorker}
	_, err = Preseed(c, stranger, Options{Source: []byte(testSetup)})
	if err == nil || !strings.Contains(err.Error(), "setup.yaml:20:3: nodes: no node \"worker9\"") {
		t.Errorf("for a node not in setup.yaml: %v", err)
	}

	// A double-quoted YAML string can carry a newline that would start a
	// second preseed line.
	sneaky := strings.Replace(testSetup, "mirror.example.org/debian", `"mirror.example.org/debian\nd-i passwd/root-password password x"`, 1)
	c, _, err = config.Parse("setup.yaml", []byte(sneaky))
	if err != nil {
		// The test needs a config that carries the newline to Preseed.
		t.Fatalf("setup.yaml with a newline in the mirror no longer parses (%v): give Preseed such a config another way", err)
	}
	_, err = Preseed(c, c.Nodes[0], Options{Source: []byte(sneaky)})
	if err == nil || !strings.Contains(err.Error(), "setup.yaml:6:11: cluster.mirror: cannot go into the preseed") {
		t.Errorf("with a newline in the mirror: %v", err)
	}
}

func TestNetmask(t *testing.T) {
	for bits, want := range map[int]string{0: "0.0.0.0", 8: "255.0.0.0", 22: "255.255.252.0", 30: "255.255.255.252"} {
		if got := netmask(bits); got != want {
			t.Errorf("netmask(%d) = %s, want %s", bits, got, want)
		}
	}
}
