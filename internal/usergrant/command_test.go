package usergrant

import (
	"path/filepath"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/config"
)

// TestLoadConfig: user-grant refuses to start on a cluster that does not
// enable it, saying which setting is missing.
func TestLoadConfig(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"disabled", string(config.Template), "sets no cluster.user-grant-domain"},
		{"no realm", strings.NewReplacer(`user-grant-domain: ""`, "user-grant-domain: "+testDomain,
			`user-grant-email-domain: ""`, "user-grant-email-domain: homeworld.test").Replace(string(config.Template)), "needs cluster.kerberos-realm"},
	} {
		path := filepath.Join(t.TempDir(), "setup.yaml")
		write(t, path, tc.text)
		if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: LoadConfig = %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}
