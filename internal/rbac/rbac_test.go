package rbac

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"homeworld.dev/homeworld/internal/config"
)

func TestManifest(t *testing.T) {
	c, _, err := config.Parse("setup.yaml", config.Template)
	if err != nil {
		t.Fatal(err)
	}
	m := Manifest(c)
	docs := strings.Split(m, "\n---\n")
	if len(docs) != 3 {
		t.Fatalf("%d objects, want 3", len(docs))
	}
	for _, d := range docs {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(d), &obj); err != nil {
			t.Fatalf("invalid YAML: %v\n%s", err, d)
		}
	}
	for _, want := range []string{"name: apiserver:master1", "name: apiserver:master3", "name: supervisor:supervisor", "name: system:kubelet-api-admin"} {
		if !strings.Contains(m, want) {
			t.Errorf("manifest lacks %q", want)
		}
	}
	for _, verb := range []string{"create", "update", "delete", "patch", "\"*\""} {
		if strings.Contains(m, verb) {
			t.Errorf("the supervisor's role allows %s", verb)
		}
	}
}
