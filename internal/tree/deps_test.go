package tree

import (
	"os/exec"
	"strings"
	"testing"
)

// nodeBinaries run on nodes; none of them may link what only the
// administrator's machine holds: the disaster key, the sealed authorities,
// age, or the JSON Schema generator.
var nodeBinaries = []string{"keyclient", "virtnode", "kube-launch", "auth-monitor", "etcd-metrics-exporter", "homeworld-flannel", "flannel-monitor", "dns-monitor", "pull-monitor", "pullcheck", "registry-front", "setup-queue"}

var adminOnly = []string{
	"homeworld.dev/homeworld/internal/disaster",
	"homeworld.dev/homeworld/internal/authority",
	"homeworld.dev/homeworld/internal/configschema",
	"homeworld.dev/homeworld/internal/virt",
	"filippo.io/age",
	"github.com/invopop/jsonschema",
}

func TestNodeBinariesLinkNoAdminCode(t *testing.T) {
	for _, bin := range nodeBinaries {
		out, err := exec.Command("go", "list", "-deps", "homeworld.dev/homeworld/cmd/"+bin).Output()
		if err != nil {
			t.Fatalf("go list -deps cmd/%s: %v", bin, err)
		}
		deps := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			deps[d] = true
		}
		for _, bad := range adminOnly {
			if deps[bad] {
				t.Errorf("cmd/%s links %s, which belongs on the administrator's machine only (go list -deps shows why)", bin, bad)
			}
		}
	}
}
