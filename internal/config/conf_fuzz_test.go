package config

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseConf feeds arbitrary text to the KEY=VALUE reader. It must never
// panic, and what it accepts must read the same once written back.
func FuzzParseConf(f *testing.F) {
	c, _, err := Parse("setup.yaml", []byte(validSetup))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ClusterConf(c))
	f.Add(LocalConf(c, c.Supervisor()))
	for _, s := range []string{"", "A=1\nnot a pair\n", "  # comment\n\n K = V \n", "=x", "K==v=", "A=1\r\nB=2\r\n", "A=1\nA=2\n", "#=x\n \t# y=z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		kv, err := ParseConf(text)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			if strings.Contains(k, "=") || strings.TrimSpace(k) != k || strings.TrimSpace(kv[k]) != kv[k] {
				t.Errorf("untrimmed or split key %q = %q", k, kv[k])
			}
			b.WriteString(k + "=" + kv[k] + "\n")
		}
		back, err := ParseConf(b.String())
		if err != nil || !maps.Equal(kv, back) {
			t.Errorf("written back as\n%s\nreads %v, %v; was %v", b.String(), back, err, kv)
		}
	})
}

// FuzzNodeConf renders cluster.conf and every node's local.conf from each
// setup.yaml the parser accepts, and reads them back: every line must be one
// KEY=VALUE that survives reading unchanged, and the values must be the
// config's.
func FuzzNodeConf(f *testing.F) {
	for _, s := range setupSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, err := Parse("setup.yaml", data)
		if err != nil {
			return
		}
		masters := c.NodesOf(KindMaster)
		cluster := readBack(t, ClusterConf(c))
		for k, want := range map[string]string{
			"APISERVER":       "https://" + masters[0].IP + ":443",
			"APISERVER_COUNT": strconv.Itoa(len(masters)),
			"CLUSTER_CIDR":    c.Addresses.CIDRPods,
			"CLUSTER_DOMAIN":  c.Cluster.InternalDomain,
			"DOMAIN":          c.Cluster.ExternalDomain,
			"ETCD_TOKEN":      c.Cluster.EtcdToken,
			"SERVICE_API":     c.Addresses.ServiceAPI,
			"SERVICE_CIDR":    c.Addresses.CIDRServices,
			"SERVICE_DNS":     c.Addresses.ServiceDNS,
		} {
			if cluster[k] != want {
				t.Errorf("cluster.conf %s = %q, want %q", k, cluster[k], want)
			}
		}
		for _, k := range []string{"APISERVERS", "ETCD_CLUSTER", "ETCD_ENDPOINTS"} {
			if n := len(strings.Split(cluster[k], ",")); n != len(masters) {
				t.Errorf("cluster.conf %s = %q lists %d masters, want %d", k, cluster[k], n, len(masters))
			}
		}
		if len(cluster) != 12 {
			t.Errorf("cluster.conf has %d keys, want 12: %v", len(cluster), cluster)
		}
		for _, n := range c.Nodes {
			local := readBack(t, LocalConf(c, n))
			want := map[string]string{
				"HOST_NODE":     n.Hostname,
				"HOST_DNS":      c.FQDN(n),
				"HOST_IP":       n.IP,
				"SCHEDULE_WORK": strconv.FormatBool(n.Kind == KindWorker),
				"KIND":          string(n.Kind),
				"POD_CIDR":      PodCIDR(c, n).String(),
			}
			if !maps.Equal(local, want) {
				t.Errorf("local.conf of %s = %v, want %v", n.Hostname, local, want)
			}
		}
	})
}

// readBack parses a rendered conf file, and checks it strictly: each line
// but comments is one KEY=VALUE, no key twice, nothing trimmed away.
func readBack(t *testing.T, text string) map[string]string {
	t.Helper()
	kv, err := ParseConf(text)
	if err != nil {
		t.Fatalf("rendered conf does not parse: %v\n%s", err, text)
	}
	lines := 0
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		lines++
		k, v, ok := strings.Cut(l, "=")
		if !ok || kv[k] != v {
			t.Errorf("line %q reads back as %q = %q", l, k, kv[k])
		}
	}
	if lines != len(kv) {
		t.Errorf("%d lines gave %d keys:\n%s", lines, len(kv), text)
	}
	return kv
}
