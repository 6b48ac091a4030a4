package nodeconf

import (
	"reflect"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/config"
)

// FuzzParse feeds arbitrary text to both parsers. They must never panic,
// and whatever they accept must render to text that parses to the same
// value.
func FuzzParse(f *testing.F) {
	c := example(f)
	f.Add(ForCluster(c).Render())
	f.Add(ForNode(c, c.Supervisor()).Render())
	for _, s := range []string{"", "A=1\nnot a pair\n", "  # comment\n\n K = V \n", "=x", "K==v=", "A=1\r\nB=2\r\n", "A=1\nA=2\n", "#=x\n \t# y=z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if cl, err := ParseCluster(ClusterFile, []byte(text)); err == nil {
			back, err := ParseCluster(ClusterFile, []byte(cl.Render()))
			if err != nil || !reflect.DeepEqual(back, cl) {
				t.Errorf("cluster.conf %+v renders as\n%s\nwhich reads %+v, %v", cl, cl.Render(), back, err)
			}
		}
		if l, err := ParseLocal(LocalFile, []byte(text)); err == nil {
			back, err := ParseLocal(LocalFile, []byte(l.Render()))
			if err != nil || back != l {
				t.Errorf("local.conf %+v renders as\n%s\nwhich reads %+v, %v", l, l.Render(), back, err)
			}
		}
	})
}

// FuzzNodeConf builds cluster.conf and every node's local.conf from each
// setup.yaml the config parser accepts: every line of the rendering must be
// one KEY=VALUE, and the files must parse back to what was built, whose
// values are the config's.
func FuzzNodeConf(f *testing.F) {
	edit := func(old, new string) string { return strings.Replace(string(config.Template), old, new, 1) }
	for _, s := range []string{
		string(config.Template),
		edit("    kind: worker\n", "    kind: master\n"),
		edit("cidr-pods: 172.18.0.0/16", "cidr-pods: 10.0.0.0/8"),
		edit("etcd-token: example-cluster-etcd-1", "etcd-token: a"),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, err := config.Parse("setup.yaml", data)
		if err != nil {
			return
		}
		cl := ForCluster(c)
		checkLines(t, cl.Render())
		if back, err := ParseCluster(ClusterFile, []byte(cl.Render())); err != nil || !reflect.DeepEqual(back, cl) {
			t.Errorf("cluster.conf reads back as %+v, %v; want %+v", back, err, cl)
		}
		masters := c.NodesOf(config.KindMaster)
		if len(cl.Masters) != len(masters) || cl.Masters[0].Name != masters[0].Hostname || cl.Masters[0].IP.String() != masters[0].IP {
			t.Errorf("masters %v, want those of %v", cl.Masters, masters)
		}
		if cl.EtcdToken != c.Cluster.EtcdToken || cl.Domain != c.Cluster.ExternalDomain || cl.ClusterDomain != c.Cluster.InternalDomain ||
			cl.ClusterCIDR.String() != c.Addresses.CIDRPods || cl.ServiceCIDR.String() != c.Addresses.CIDRServices ||
			cl.ServiceAPI.String() != c.Addresses.ServiceAPI || cl.ServiceDNS.String() != c.Addresses.ServiceDNS {
			t.Errorf("cluster.conf %+v differs from setup.yaml", cl)
		}
		for _, n := range c.Nodes {
			l := ForNode(c, n)
			checkLines(t, l.Render())
			if back, err := ParseLocal(LocalFile, []byte(l.Render())); err != nil || back != l {
				t.Errorf("local.conf of %s reads back as %+v, %v; want %+v", n.Hostname, back, err, l)
			}
			if l.Hostname != n.Hostname || l.FQDN != c.FQDN(n) || l.IP.String() != n.IP || l.Kind != n.Kind {
				t.Errorf("local.conf of %s = %+v", n.Hostname, l)
			}
		}
	})
}

// checkLines holds a rendering to what shell scripts can source: a comment,
// then KEY=VALUE lines with nothing a parser would trim away.
func checkLines(t *testing.T, text string) {
	t.Helper()
	for i, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if i == 0 && strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" || strings.TrimSpace(k) != k || strings.TrimSpace(v) != v || strings.ContainsAny(v, " \t'\"$`\\;") {
			t.Errorf("line %q is not a plain KEY=VALUE", l)
		}
	}
}
