package virt

import (
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/config"
)

func TestTemplateIsValid(t *testing.T) {
	for _, shape := range [][2]int{{1, 1}, {3, 1}, {3, 5}} {
		cfg, warnings, err := config.Parse("setup.yaml", []byte(Setup(shape[0], shape[1])))
		if err != nil || len(warnings) != 0 {
			t.Fatalf("%v: %v %v", shape, err, warnings)
		}
		if len(cfg.NodesOf(config.KindMaster)) != shape[0] || len(cfg.NodesOf(config.KindWorker)) != shape[1] {
			t.Errorf("%v: wrong node counts", shape)
		}
	}
}

func TestTopologyNames(t *testing.T) {
	cfg, _, _ := config.Parse("setup.yaml", []byte(Setup(3, 2)))
	a, err := NewTopology("/tmp/a", cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewTopology("/tmp/b", cfg)
	if a.Bridge == b.Bridge || a.Nodes[0].Netns == b.Nodes[0].Netns || a.Nodes[0].Veth == b.Nodes[0].Veth {
		t.Error("two workspaces share interface or namespace names")
	}
	if a.Gateway.String() != "10.213.0.1/24" {
		t.Errorf("gateway %s", a.Gateway)
	}
	seen := map[string]bool{}
	for _, n := range a.Nodes {
		for _, name := range []string{n.Veth, "hwp" + n.Veth[3:], a.Bridge} {
			if len(name) > 15 {
				t.Errorf("interface name %q is longer than Linux allows", name)
			}
		}
		if seen[n.Veth] {
			t.Errorf("duplicate veth %s", n.Veth)
		}
		seen[n.Veth] = true
		if !strings.HasPrefix(n.Netns, "hw"+a.ID+"-") {
			t.Errorf("netns %s lacks the cluster prefix", n.Netns)
		}
	}
}

func TestGatewayAddressRefused(t *testing.T) {
	text := strings.Replace(Setup(1, 1), "ip: 10.213.0.31", "ip: 10.213.0.1", 1)
	cfg, _, err := config.Parse("setup.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewTopology("/tmp/x", cfg); err == nil || !strings.Contains(err.Error(), "gateway") {
		t.Errorf("NewTopology = %v", err)
	}
}
