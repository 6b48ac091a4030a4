package kubeconfig

import (
	"encoding/base64"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestRenderInline: the credentials come back byte for byte from the
// base64 fields kubectl reads, and the context carries the namespace.
func TestRenderInline(t *testing.T) {
	in := Inline{Server: "https://192.0.2.21", CA: []byte("ca pem\n"), Cert: []byte("cert pem\n"), Key: []byte("key pem\n"), Namespace: "user-alice"}
	data, err := RenderInline("homeworld", "user:alice", in)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Clusters []struct {
			Name    string
			Cluster map[string]string
		}
		Users []struct {
			Name string
			User map[string]string
		}
		Contexts []struct {
			Name    string
			Context map[string]string
		}
		CurrentContext string `yaml:"current-context"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%v:\n%s", err, data)
	}
	if len(doc.Clusters) != 1 || len(doc.Users) != 1 || len(doc.Contexts) != 1 {
		t.Fatalf("want one cluster, user and context:\n%s", data)
	}
	decoded := func(s string) string {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Errorf("%q is not base64: %v", s, err)
		}
		return string(b)
	}
	c, u, x := doc.Clusters[0], doc.Users[0], doc.Contexts[0]
	for _, check := range []struct{ name, got, want string }{
		{"server", c.Cluster["server"], in.Server},
		{"certificate-authority-data", decoded(c.Cluster["certificate-authority-data"]), string(in.CA)},
		{"client-certificate-data", decoded(u.User["client-certificate-data"]), string(in.Cert)},
		{"client-key-data", decoded(u.User["client-key-data"]), string(in.Key)},
		{"user name", u.Name, "user:alice"},
		{"context user", x.Context["user"], "user:alice"},
		{"context cluster", x.Context["cluster"], "homeworld"},
		{"context namespace", x.Context["namespace"], "user-alice"},
		{"current-context", doc.CurrentContext, x.Name},
	} {
		if check.got != check.want {
			t.Errorf("%s = %q, want %q", check.name, check.got, check.want)
		}
	}
}
