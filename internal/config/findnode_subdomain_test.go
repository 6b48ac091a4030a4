package config

import (
	"strings"
	"testing"
)

// An internal domain under the external one is valid, and FindNode must
// still resolve names in it ("master2.k8s.cluster.example.org").
func TestFindNodeInternalUnderExternal(t *testing.T) {
	text := strings.Replace(validSetup, "internal-domain: cluster.internal", "internal-domain: k8s.cluster.example.org", 1)
	c, _, err := Parse("setup.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := c.FindNode("master2.k8s.cluster.example.org"); !ok || n.Hostname != "master2" {
		t.Errorf("FindNode(master2.k8s.cluster.example.org) = %v, %v", n, ok)
	}
}
