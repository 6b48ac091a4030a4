package upstreamtest

import (
	"strings"
	"testing"
)

// TestSchemaCheckFindsMistakes: each manifest has one mistake kubectl's
// client-side dry run against a modern API would let through.
func TestSchemaCheckFindsMistakes(t *testing.T) {
	s := loadSchemas(t, kubernetesSource(t))
	const svc = "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
	tests := []struct{ manifest, want string }{
		{svc + "spec: {clusterIP: 10.0.0.1}\n", ""},
		{svc + "spec: {clusterIp: 10.0.0.1}\n", `Service x.spec: unknown field "clusterIp"`},
		{svc + "spec: {ports: [{port: dns}]}\n", "Service x.spec.ports[0].port: dns is not an integer"},
		{svc + "spec: {ports: [{targetPort: 53}]}\n", `Service x.spec.ports[0]: required field "port" missing`},
		{svc + "spec: {ports: [{port: 53, targetPort: [53]}]}\n", "matches none of its types"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: two}\n", "Deployment d.spec.replicas: two is not an integer"},
		{"apiVersion: v1\nkind: Deployment\nmetadata: {name: d}\n", `no kind "v1 Deployment"`},
	}
	for _, tc := range tests {
		problems, err := s.checkManifest(tc.manifest)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(problems, "\n")
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("checking\n%s\ngot %q, want %q", tc.manifest, got, tc.want)
		}
	}
}
