package tree

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnlyTheSetupQueueApplies: every manifest reaches a cluster through
// the supervisor's setup queue, so a real host gets exactly what a virtual
// cluster gets. No other package may apply manifests (kubeapply.Apply) or
// run kubectl apply.
func TestOnlyTheSetupQueueApplies(t *testing.T) {
	allowed := map[string]bool{"internal/setupqueue": true, "internal/kubeapply": true}
	for _, path := range goFiles(t, false) {
		rel, _ := filepath.Rel("../..", path)
		if allowed[filepath.ToSlash(filepath.Dir(rel))] {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, "kubeapply.Apply(") || strings.Contains(line, `"apply", "--server-side"`) {
				t.Errorf("%s:%d applies manifests itself; queue them (internal/setupqueue) instead", rel, i+1)
			}
		}
	}
}
