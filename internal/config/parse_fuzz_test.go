package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// setupSeeds are the valid examples and a few broken or tricky variants of
// them; the fuzz targets that read setup.yaml start from these.
func setupSeeds() []string {
	edit := func(old, new string) string { return strings.Replace(validSetup, old, new, 1) }
	return []string{
		validSetup,
		minimalSetup,
		string(Template),
		"",
		"# nothing\n",
		"nodes: [",
		edit("vlan: 0", "vlan: 0x10"),
		edit("kind: worker}\n  - {hostname: worker2", "kind: supervisor}\n  - {hostname: worker2"),
		edit("cidr-pods: 172.18.0.0/16", "cidr-pods: 172.18.0.0/29"),
		edit("ip: 10.20.0.31", "ip: 10.20.0.255"),
		edit("dns-upstreams: [10.20.0.53]", "dns-upstreams: &up [10.20.0.53]\nx: *up"),
		edit("cluster:\n", "cluster: &c\n") + "other: *c\n",
		edit("  - {hostname: supervisor, ip: 10.20.0.10, kind: supervisor}", "  - &s {hostname: supervisor, ip: 10.20.0.10, kind: supervisor}\n  - *s"),
		edit("internal-domain: cluster.internal", "internal-domain: k8s.cluster.example.org"),
		edit("mirror.example.org: 10.20.0.80", "mirror.example.org: 10.20.0.80\n  \"1\": 10.20.0.81"),
		edit("vlan: 0", "vlan: !!str 0"),
		edit("cidr-nodes: 10.20.0.0/24", "cidr-nodes: 0.0.0.0/0"),
	}
}

// FuzzParse feeds arbitrary text to the setup.yaml parser. It must never
// panic; a refusal must be a located list of problems; and a config it
// accepts must meet every promise the rest of Homeworld relies on, render
// back to an equal config, and pass the shipped JSON Schema.
func FuzzParse(f *testing.F) {
	for _, s := range setupSeeds() {
		f.Add([]byte(s))
	}
	schema := compileSchema(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, err := Parse("setup.yaml", data)
		if err != nil {
			checkProblems(t, err)
			return
		}
		checkValidConfig(t, c)
		checkRendersBack(t, c)
		if v, ok := asSchemaValue(data); ok {
			if err := schema.Validate(v); err != nil {
				t.Errorf("spire accepts what the schema rejects: %v", err)
			}
		}
	})
}

func checkProblems(t *testing.T, err error) {
	t.Helper()
	var ps Problems
	if !errors.As(err, &ps) || len(ps) == 0 {
		t.Fatalf("refusal %v is not a list of problems", err)
	}
	for _, p := range ps {
		if p.File != "setup.yaml" || p.Message == "" || p.Line < 0 || p.Column < 0 {
			t.Errorf("problem without a place or message: %+v", p)
		}
	}
	_ = ps.Error()
}

// checkValidConfig asserts what validation promises about an accepted config.
func checkValidConfig(t *testing.T, c *Config) {
	t.Helper()
	prefix := func(s string) netip.Prefix {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() || p.Masked() != p || p.Bits() > 30 {
			t.Fatalf("accepted range %q", s)
		}
		return p
	}
	nodes, pods, services := prefix(c.Addresses.CIDRNodes), prefix(c.Addresses.CIDRPods), prefix(c.Addresses.CIDRServices)
	if nodes.Overlaps(pods) || nodes.Overlaps(services) || pods.Overlaps(services) {
		t.Errorf("accepted overlapping ranges %s %s %s", nodes, pods, services)
	}
	api, err1 := netip.ParseAddr(c.Addresses.ServiceAPI)
	dns, err2 := netip.ParseAddr(c.Addresses.ServiceDNS)
	if err1 != nil || err2 != nil || api == dns || !usable(services, api) || !usable(services, dns) {
		t.Errorf("accepted service IPs %q %q in %s", c.Addresses.ServiceAPI, c.Addresses.ServiceDNS, services)
	}
	if len(c.NodesOf(KindSupervisor)) != 1 || len(c.NodesOf(KindMaster)) == 0 {
		t.Fatalf("accepted %d supervisors and %d masters", len(c.NodesOf(KindSupervisor)), len(c.NodesOf(KindMaster)))
	}
	_ = c.Supervisor()
	names, ips := map[string]bool{}, map[netip.Addr]bool{}
	// The controller-manager hands out a /NodePodPrefix per master and
	// worker: cidr-pods must hold that many.
	if room := NodePodPrefix - pods.Bits(); room < 0 || (room < 31 && 1<<room < c.KubeNodes()) {
		t.Errorf("accepted cidr-pods %s for %d masters and workers", pods, c.KubeNodes())
	}
	for _, n := range c.Nodes {
		ip, err := netip.ParseAddr(n.IP)
		if err != nil || !ip.Is4() || !usable(nodes, ip) || ips[ip] {
			t.Errorf("accepted node address %q in %s", n.IP, nodes)
		}
		if !labelRE.MatchString(n.Hostname) || names[n.Hostname] {
			t.Errorf("accepted hostname %q", n.Hostname)
		}
		if n.Kind != KindSupervisor && n.Kind != KindMaster && n.Kind != KindWorker {
			t.Errorf("accepted kind %q", n.Kind)
		}
		names[n.Hostname], ips[ip] = true, true
		for _, name := range []string{n.Hostname, c.FQDN(n)} {
			if found, ok := c.FindNode(name); !ok || found != n {
				t.Errorf("FindNode(%q) = %v, %v", name, found, ok)
			}
		}
	}
}

// checkRendersBack asserts that the normalized rendering of an accepted
// config parses to the same config and renders identically again.
func checkRendersBack(t *testing.T, c *Config) {
	t.Helper()
	out, err := Marshal(c)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	back, _, err := Parse("setup.yaml", out)
	if err != nil {
		t.Fatalf("the rendering of an accepted config is refused: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(normalized(*c), normalized(*back)) {
		t.Fatalf("rendering changed the config:\n%+v\n%+v\n%s", *c, *back, out)
	}
	if again, _ := Marshal(back); !bytes.Equal(out, again) {
		t.Errorf("rendering is not stable:\n%s\n%s", out, again)
	}
}

// normalized treats empty and absent lists and maps alike, as the file does.
func normalized(c Config) Config {
	if len(c.DNSUpstreams) == 0 {
		c.DNSUpstreams = nil
	}
	if len(c.DNSBootstrap) == 0 {
		c.DNSBootstrap = nil
	}
	if len(c.RootAdmins) == 0 {
		c.RootAdmins = nil
	}
	return c
}

// asSchemaValue converts YAML to what a JSON validator takes; false if the
// document has no JSON form (say, a non-text map key).
func asSchemaValue(data []byte) (any, bool) {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	return out, err == nil
}
