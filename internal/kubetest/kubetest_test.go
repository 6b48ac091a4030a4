package kubetest

import (
	"strings"
	"testing"
)

// TestStart: the apiserver answers the admin, enforces RBAC for anyone
// else (so tests of RBAC manifests mean something) and validates objects.
func TestStart(t *testing.T) {
	api := Start(t)
	if out := api.Kubectl(t, "auth", "can-i", "create", "clusterroles"); strings.TrimSpace(string(out)) != "yes" {
		t.Errorf("the admin may not create clusterroles: %s", out)
	}
	out, _ := api.TryKubectl("auth", "can-i", "list", "secrets", "--as", "nobody")
	if strings.TrimSpace(string(out)) != "no" {
		t.Errorf("an unknown user may list secrets (%s): RBAC is not enforced", out)
	}
	_, err := api.TryKubectl("create", "configmap", "Not_A_Name")
	if err == nil || !strings.Contains(err.Error(), "Invalid value") {
		t.Errorf("an invalid name = %v, want the API's validation error", err)
	}
}
