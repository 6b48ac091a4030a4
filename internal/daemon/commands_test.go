package daemon_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/authmonitor"
	"homeworld.dev/homeworld/internal/etcdexporter"
	"homeworld.dev/homeworld/internal/kubestate"
)

// TestDaemonCommandLines: each daemon's --help names its flags, the old
// positional form still reaches what it names (here a missing file), and a
// missing required flag is refused.
func TestDaemonCommandLines(t *testing.T) {
	for _, tc := range []struct {
		command func() *cobra.Command
		flags   []string
		old     []string
		oldErr  string
	}{
		{authmonitor.Command, []string{"--listen", "--keyserver", "--interval", "--root"},
			[]string{"--root", t.TempDir(), "127.0.0.1:0", "127.0.0.1:1"}, "setup.yaml"},
		{kubestate.Command, []string{"--listen", "--ca", "--cert", "--key", "--apiserver"},
			[]string{"127.0.0.1:0", "/nonexistent/ca.pem", "c.pem", "c.key", "https://a:443", "https://b:443"}, "/nonexistent/ca.pem"},
		{etcdexporter.Command, []string{"--listen", "--etcd", "--ca", "--cert", "--key"},
			[]string{"127.0.0.1:0", "https://127.0.0.1:2379", "/nonexistent/ca.pem", "c.pem", "c.key"}, "/nonexistent/ca.pem"},
	} {
		var help bytes.Buffer
		c := tc.command()
		name := c.Name()
		c.SetOut(&help)
		c.SetArgs([]string{"--help"})
		if err := c.Execute(); err != nil {
			t.Fatal(err)
		}
		for _, flag := range tc.flags {
			if !strings.Contains(help.String(), flag) {
				t.Errorf("%s --help does not mention %s:\n%s", name, flag, help.String())
			}
		}
		c = tc.command()
		c.SetArgs(tc.old)
		if err := c.Execute(); err == nil || !strings.Contains(err.Error(), tc.oldErr) {
			t.Errorf("%s %q = %v, want an error about %s", name, tc.old, err, tc.oldErr)
		}
		c = tc.command()
		c.SetArgs([]string{"--listen", "127.0.0.1:0"})
		if err := c.Execute(); err == nil || !strings.Contains(err.Error(), "required flag") {
			t.Errorf("%s with flags missing = %v, want a required-flag error", name, err)
		}
	}
}
