package config

import (
	"errors"
	"strings"
	"testing"
)

// validSetup is a 1 supervisor + 3 masters + 2 workers cluster. The invalid
// cases below each edit one spot of it, so the line numbers in the table are
// the line numbers of this text.
const validSetup = `cluster:
  external-domain: cluster.example.org
  internal-domain: cluster.internal
  etcd-token: test-token
  kerberos-realm: ""
  mirror: deb.debian.org/debian
vlan: 0
addresses:
  cidr-nodes: 10.20.0.0/24
  cidr-pods: 172.18.0.0/16
  cidr-services: 172.28.0.0/16
  service-api: 172.28.0.1
  service-dns: 172.28.0.2
dns-upstreams: [10.20.0.53]
dns-bootstrap:
  mirror.example.org: 10.20.0.80
root-admins:
  - alice
nodes:
  - {hostname: supervisor, ip: 10.20.0.10, kind: supervisor}
  - {hostname: master1, ip: 10.20.0.21, kind: master}
  - {hostname: master2, ip: 10.20.0.22, kind: master}
  - {hostname: master3, ip: 10.20.0.23, kind: master}
  - {hostname: worker1, ip: 10.20.0.31, kind: worker}
  - {hostname: worker2, ip: 10.20.0.32, kind: worker}
`

const minimalSetup = `cluster:
  external-domain: small.example.org
  internal-domain: small.internal
  etcd-token: small
addresses:
  cidr-nodes: 192.168.50.0/24
  cidr-pods: 10.100.0.0/16
  cidr-services: 10.200.0.0/16
  service-api: 10.200.0.1
  service-dns: 10.200.0.10
nodes:
  - {hostname: sup, ip: 192.168.50.2, kind: supervisor}
  - {hostname: m1, ip: 192.168.50.3, kind: master}
  - {hostname: w1, ip: 192.168.50.4, kind: worker}
`

func TestValidExamples(t *testing.T) {
	for name, text := range map[string]string{
		"1+3+2":    validSetup,
		"1+1+1":    minimalSetup,
		"template": string(Template),
	} {
		t.Run(name, func(t *testing.T) {
			c, warnings, err := Parse("setup.yaml", []byte(text))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(warnings) != 0 {
				t.Errorf("warnings = %v, want none", warnings)
			}
			if got := len(c.NodesOf(KindSupervisor)); got != 1 {
				t.Errorf("supervisors = %d, want 1", got)
			}
		})
	}
}

func TestInvalidSetups(t *testing.T) {
	cases := []struct {
		name     string
		old, new string // edit applied to validSetup
		field    string
		line     int
		message  string // substring of the message
	}{
		{"unknown top-level key", "vlan: 0", "vlna: 0", "vlna", 7, `did you mean "vlan"`},
		{"unknown cluster key", "  mirror: deb", "  miror: deb", "cluster.miror", 6, `did you mean "mirror"`},
		{"unknown node key", "hostname: worker2,", "hostname: worker2, role: x,", "nodes[5].role", 25, "unknown key"},
		{"vlan not integer", "vlan: 0", "vlan: ten", "vlan", 7, "must be an integer"},
		{"vlan out of range", "vlan: 0", "vlan: 5000", "vlan", 7, "not a VLAN id"},
		{"nodes not a list", "nodes:\n  - {hostname: supervisor,", "nodes: {}\nx:\n  - {hostname: supervisor,", "nodes", 19, "must be a list"},
		{"string given a number", "etcd-token: test-token", "etcd-token: 12345", "cluster.etcd-token", 4, `quote it`},
		{"missing external-domain", "  external-domain: cluster.example.org\n", "", "cluster.external-domain", 2, "missing required key"},
		{"missing addresses key", "  service-dns: 172.28.0.2\n", "", "addresses.service-dns", 9, "missing required key"},
		{"invalid external domain", "external-domain: cluster.example.org", "external-domain: bad_domain.org", "cluster.external-domain", 2, "not a valid DNS name"},
		{"uppercase internal domain", "internal-domain: cluster.internal", "internal-domain: Cluster.Internal", "cluster.internal-domain", 3, "lowercase"},
		{"same domains", "internal-domain: cluster.internal", "internal-domain: cluster.example.org", "cluster.internal-domain", 3, "must differ"},
		{"empty etcd token", "etcd-token: test-token", `etcd-token: ""`, "cluster.etcd-token", 4, "non-empty"},
		{"key without a value", `kerberos-realm: ""`, "kerberos-realm:", "cluster.kerberos-realm", 5, "has no value"},
		{"list item without a value", "  - alice", "  -", "root-admins[0]", 18, "has no value"},
		{"mirror with scheme", "mirror: deb.debian.org/debian", "mirror: http://deb.debian.org/debian", "cluster.mirror", 6, "without a scheme"},
		{"bad cidr", "cidr-nodes: 10.20.0.0/24", "cidr-nodes: 10.20.0.0/33", "addresses.cidr-nodes", 9, "not an IPv4 range"},
		{"ipv6 cidr", "cidr-pods: 172.18.0.0/16", "cidr-pods: fd00::/64", "addresses.cidr-pods", 10, "not an IPv4 range"},
		{"cidr host bits", "cidr-services: 172.28.0.0/16", "cidr-services: 172.28.0.1/16", "addresses.cidr-services", 11, "did you mean 172.28.0.0/16"},
		{"pods overlap services", "cidr-pods: 172.18.0.0/16", "cidr-pods: 172.16.0.0/12", "addresses.cidr-services", 11, "overlaps cidr-pods"},
		{"nodes overlap pods", "cidr-pods: 172.18.0.0/16", "cidr-pods: 10.0.0.0/8", "addresses.cidr-pods", 10, "overlaps cidr-nodes"},
		{"service-api outside range", "service-api: 172.28.0.1", "service-api: 172.29.0.1", "addresses.service-api", 12, "not a usable address of cidr-services"},
		{"service-dns is network address", "service-dns: 172.28.0.2", "service-dns: 172.28.0.0", "addresses.service-dns", 13, "not a usable address"},
		{"service-dns equals api", "service-dns: 172.28.0.2", "service-dns: 172.28.0.1", "addresses.service-dns", 13, "also service-api"},
		{"service-api not an ip", "service-api: 172.28.0.1", "service-api: api.local", "addresses.service-api", 12, "not an IPv4 address"},
		{"bad dns upstream", "dns-upstreams: [10.20.0.53]", "dns-upstreams: [10.20.0.53, 8.8.8]", "dns-upstreams[1]", 14, "not an IPv4 address"},
		{"bad dns-bootstrap address", "mirror.example.org: 10.20.0.80", "mirror.example.org: nowhere", "dns-bootstrap.mirror.example.org", 16, "not an IPv4 address"},
		{"bad admin principal", "  - alice", "  - Alice Smith", "root-admins[0]", 18, "not a principal"},
		{"realm without admins", "root-admins:\n  - alice\n", "root-admins: []\n\n", "cluster.kerberos-realm", 5, "root-admins is empty"},
		{"admin in other realm", "  - alice", "  - alice@OTHER.ORG\n  - bob@EXAMPLE.ORG", "root-admins[0]", 18, "realm OTHER.ORG"},
		{"node ip outside range", "ip: 10.20.0.31", "ip: 10.21.0.31", "nodes[4].ip", 24, "not a usable address of cidr-nodes"},
		{"node ip is broadcast", "ip: 10.20.0.31", "ip: 10.20.0.255", "nodes[4].ip", 24, "not a usable address"},
		{"node ip invalid", "ip: 10.20.0.31", "ip: 10.20.0.310", "nodes[4].ip", 24, "not an IPv4 address"},
		{"duplicate hostname", "hostname: worker2", "hostname: worker1", "nodes[5].hostname", 25, `already used by nodes[4] (line 24)`},
		{"duplicate ip", "ip: 10.20.0.32", "ip: 10.20.0.31", "nodes[5].ip", 25, `already used by nodes[4] (line 24)`},
		{"hostname with domain", "hostname: worker1,", "hostname: worker1.cluster.example.org,", "nodes[4].hostname", 24, "without dots"},
		{"hostname invalid", "hostname: worker1,", "hostname: Worker_1,", "nodes[4].hostname", 24, "not a valid hostname"},
		{"unknown kind", "kind: worker}\n  - {hostname: worker2", "kind: minion}\n  - {hostname: worker2", "nodes[4].kind", 24, "not a node kind"},
		{"two supervisors", "worker2, ip: 10.20.0.32, kind: worker", "worker2, ip: 10.20.0.32, kind: supervisor", "nodes[5].kind", 25, "second supervisor"},
		{"no supervisor", "ip: 10.20.0.10, kind: supervisor", "ip: 10.20.0.10, kind: worker", "nodes", 20, "no node has kind supervisor"},
		{"user-grant without a Kerberos realm", "  mirror: deb.debian.org/debian\n", "  mirror: deb.debian.org/debian\n  user-grant-domain: grant.example.org\n", "cluster.user-grant-domain", 7, "needs cluster.kerberos-realm"},
		{"pods range too small", "cidr-pods: 172.18.0.0/16", "cidr-pods: 172.18.0.0/23", "addresses.cidr-pods", 10, "too small"},
		{"yaml unclosed list", "vlan: 0", "vlan: [0", "", 7, "invalid YAML"},
		{"yaml bad indentation", "  service-dns: 172.28.0.2", "  service-dns: 172.28.0.2\n    extra: 1", "", 14, "invalid YAML"},
		{"duplicate key", "vlan: 0", "vlan: 0\nvlan: 1", "vlan", 8, "already defined at line 7"},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(validSetup, tc.old) != 1 {
				t.Fatalf("edit %q matches %d times in validSetup, want once", tc.old, strings.Count(validSetup, tc.old))
			}
			text := strings.Replace(validSetup, tc.old, tc.new, 1)
			if tc.name == "realm without admins" {
				text = strings.Replace(text, `kerberos-realm: ""`, "kerberos-realm: EXAMPLE.ORG", 1)
			}
			if tc.name == "admin in other realm" {
				text = strings.Replace(text, `kerberos-realm: ""`, "kerberos-realm: EXAMPLE.ORG", 1)
			}
			_, _, err := Parse("setup.yaml", []byte(text))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse error = %v, want Problems", err)
			}
			for _, p := range ps {
				if p.File == "setup.yaml" && p.Field == tc.field && p.Line == tc.line && strings.Contains(p.Message, tc.message) {
					return
				}
			}
			t.Errorf("no problem at %s line %d containing %q; got:\n%v", tc.field, tc.line, tc.message, err)
		})
	}
}

func TestAllErrorsReportedAtOnce(t *testing.T) {
	text := strings.NewReplacer(
		"external-domain: cluster.example.org", "external-domain: -bad-",
		"service-api: 172.28.0.1", "service-api: 1.2.3.4",
		"ip: 10.20.0.31", "ip: 10.20.0.21",
	).Replace(validSetup)
	_, _, err := Parse("setup.yaml", []byte(text))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	want := []string{"cluster.external-domain", "addresses.service-api", "nodes[4].ip"}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, p := range ps {
		if p.Field != want[i] {
			t.Errorf("problem %d field = %q, want %q (sorted by line)", i, p.Field, want[i])
		}
	}
}

func TestEvenMastersWarn(t *testing.T) {
	text := strings.Replace(validSetup, "  - {hostname: master3, ip: 10.20.0.23, kind: master}\n", "", 1)
	_, warnings, err := Parse("setup.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || warnings[0].Field != "nodes" || !strings.Contains(warnings[0].Message, "2 masters") {
		t.Errorf("warnings = %v, want one about 2 masters on nodes", warnings)
	}
}

func TestNoMaster(t *testing.T) {
	text := strings.NewReplacer("kind: master}", "kind: worker}").Replace(validSetup)
	_, _, err := Parse("setup.yaml", []byte(text))
	if err == nil || !strings.Contains(err.Error(), "setup.yaml:20:3: nodes: no node has kind master") {
		t.Errorf("err = %v, want no-master error at line 20", err)
	}
}

func TestEmptyFile(t *testing.T) {
	_, _, err := Parse("setup.yaml", []byte("# nothing\n"))
	if err == nil || !strings.Contains(err.Error(), "file is empty") {
		t.Errorf("err = %v", err)
	}
}

func TestFindNode(t *testing.T) {
	c, _, err := Parse("setup.yaml", []byte(validSetup))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"master2", "master2.cluster.example.org", "master2.cluster.internal"} {
		if n, ok := c.FindNode(name); !ok || n.IP != "10.20.0.22" {
			t.Errorf("FindNode(%q) = %v, %v", name, n, ok)
		}
	}
	if _, ok := c.FindNode("nope"); ok {
		t.Error("FindNode(nope) found a node")
	}
	if got := c.FQDN(c.Supervisor()); got != "supervisor.cluster.example.org" {
		t.Errorf("FQDN = %q", got)
	}
}

func TestProblemAt(t *testing.T) {
	noMirror := strings.Replace(validSetup, "  mirror: deb.debian.org/debian\n", "", 1)
	for _, tc := range []struct {
		text, field string
		line        int
	}{
		{validSetup, "cluster.mirror", 6},
		{noMirror, "cluster.mirror", 2}, // absent: its parent, cluster's mapping
		{validSetup, "nodes[1].ip", 21},
		{"", "cluster.mirror", 0},
	} {
		p := ProblemAt("setup.yaml", []byte(tc.text), tc.field, "needed")
		if p.Line != tc.line || p.Field != tc.field || p.File != "setup.yaml" || p.Message != "needed" {
			t.Errorf("ProblemAt(%s) = %+v, want line %d", tc.field, p, tc.line)
		}
	}
}
