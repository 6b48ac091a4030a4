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
	fl := FlannelManifest()
	flDocs := strings.Split(fl, "\n---\n")
	if len(flDocs) != 2 || strings.Contains(m, "homeworld:flannel") {
		t.Fatalf("flannel's objects are not apart: %d of them, and Manifest has them %v", len(flDocs), strings.Contains(m, "homeworld:flannel"))
	}
	for _, d := range append(docs, flDocs...) {
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
		if strings.Contains(docs[0], verb) {
			t.Errorf("the supervisor's role allows %s", verb)
		}
	}
	flannel := `rules:
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [nodes/status]
  verbs: [patch]`
	if !strings.Contains(flDocs[0], "name: homeworld:flannel") || !strings.HasSuffix(flDocs[0], flannel) {
		t.Errorf("flannel's role is not exactly read nodes, patch their status:\n%s", flDocs[0])
	}
	if !strings.Contains(flDocs[1], "kind: Group\n  name: "+FlannelGroup) {
		t.Errorf("flannel's role is not bound to %s:\n%s", FlannelGroup, flDocs[1])
	}
}
