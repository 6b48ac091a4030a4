package tree

import (
	"os/exec"
	"strings"
	"testing"
)

// nodeBinaries run on nodes; none of them may link what only the
// administrator's machine holds: the disaster key, the sealed authorities,
// the branch-signing key and the apt branch builder, age, OpenPGP, or the
// JSON Schema generator.
var nodeBinaries = []string{"keyclient", "virtnode", "kube-launch", "auth-monitor", "etcd-metrics-exporter", "homeworld-flannel", "flannel-monitor", "dns-monitor", "pull-monitor", "pullcheck", "registry-front", "setup-queue", "user-grant"}

var adminOnly = []string{
	"homeworld.dev/homeworld/internal/disaster",
	"homeworld.dev/homeworld/internal/authority",
	"homeworld.dev/homeworld/internal/configschema",
	"homeworld.dev/homeworld/internal/virt",
	"homeworld.dev/homeworld/internal/branchkey",
	"homeworld.dev/homeworld/internal/aptbranch",
	"filippo.io/age",
	"github.com/ProtonMail/go-crypto/openpgp",
	"github.com/invopop/jsonschema",
}

// keyserverNever is what the keyserver, which unseals the other
// authorities on the supervisor, must not link: it never signs branches.
var keyserverNever = []string{
	"homeworld.dev/homeworld/internal/branchkey",
	"homeworld.dev/homeworld/internal/aptbranch",
	"github.com/ProtonMail/go-crypto/openpgp",
}

func TestNodeBinariesLinkNoAdminCode(t *testing.T) {
	for _, bin := range nodeBinaries {
		deps := listDeps(t, bin)
		for _, bad := range adminOnly {
			if deps[bad] {
				t.Errorf("cmd/%s links %s, which belongs on the administrator's machine only (go list -deps shows why)", bin, bad)
			}
		}
	}
}

func TestKeyserverLinksNoBranchSigning(t *testing.T) {
	deps := listDeps(t, "keyserver")
	for _, bad := range keyserverNever {
		if deps[bad] {
			t.Errorf("cmd/keyserver links %s; the branch-signing key stays on the administrator's machine (go list -deps shows why)", bad)
		}
	}
}

// listDeps is the set of packages cmd/bin links.
func listDeps(t *testing.T, bin string) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "homeworld.dev/homeworld/cmd/"+bin).Output()
	if err != nil {
		t.Fatalf("go list -deps cmd/%s: %v", bin, err)
	}
	deps := map[string]bool{}
	for _, d := range strings.Fields(string(out)) {
		deps[d] = true
	}
	return deps
}
