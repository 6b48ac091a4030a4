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
	if len(docs) != 9 {
		t.Fatalf("%d objects, want 9", len(docs))
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
	// The supervisor may read the two monitors' metrics through the
	// service proxy, and no other Service's.
	proxy := `rules:
- apiGroups: [""]
  resources: [services/proxy]
  resourceNames: [flannel-monitor-collector:metrics, dns-monitor:metrics]
  verbs: [get]`
	if !strings.Contains(docs[2], "kind: Role\n") || !strings.Contains(docs[2], "namespace: kube-system") || !strings.HasSuffix(docs[2], proxy) {
		t.Errorf("the supervisor's proxy role is not exactly get on the monitors' services/proxy:\n%s", docs[2])
	}
	if !strings.Contains(docs[3], "kind: RoleBinding") || !strings.HasSuffix(docs[3], "kind: User\n  name: supervisor:supervisor") {
		t.Errorf("the proxy role is not bound to the supervisor:\n%s", docs[3])
	}
	// user-grant creates namespaces and what goes in them, and may bind
	// the admin ClusterRole alone; nothing else, and never delete.
	userGrant := `rules:
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, create]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [rolebindings]
  verbs: [get, create, update]
- apiGroups: [""]
  resources: [resourcequotas, limitranges]
  verbs: [get, create, update]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [clusterroles]
  resourceNames: [admin]
  verbs: [bind]`
	if !strings.Contains(docs[5], "kind: ClusterRole\n") || !strings.Contains(docs[5], "name: homeworld:user-grant") || !strings.HasSuffix(docs[5], userGrant) {
		t.Errorf("user-grant's role is not exactly namespaces, their bindings, quotas and limits, and bind on admin:\n%s", docs[5])
	}
	if !strings.Contains(docs[6], "kind: ClusterRoleBinding") || !strings.HasSuffix(strings.TrimSpace(docs[6]), "kind: User\n  name: "+UserGrantUser("supervisor")) {
		t.Errorf("user-grant's role is not bound to %s:\n%s", UserGrantUser("supervisor"), docs[6])
	}
	if !strings.Contains(docs[7], "kind: ValidatingAdmissionPolicy\n") || !strings.Contains(docs[7], "request.userInfo.username == '"+UserGrantUser("supervisor")+"'") ||
		!strings.Contains(docs[8], "validationActions: [Deny]") {
		t.Errorf("user-grant's scope is not enforced by an admission policy:\n%s---\n%s", docs[7], docs[8])
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
