package daemon_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/authmonitor"
	"homeworld.dev/homeworld/internal/etcdexporter"
	"homeworld.dev/homeworld/internal/registryfront"
	"homeworld.dev/homeworld/internal/usergrant"
)

// TestDaemonCommandLines: each daemon's --help names its flags, the flags
// reach what they name (here a missing file), positional arguments and a
// missing required flag are refused.
func TestDaemonCommandLines(t *testing.T) {
	for _, tc := range []struct {
		command func() *cobra.Command
		flags   []string
		args    []string
		argsErr string
	}{
		{authmonitor.Command, []string{"--listen", "--keyserver", "--interval", "--root"},
			[]string{"--root", t.TempDir(), "--listen", "127.0.0.1:0", "--keyserver", "127.0.0.1:1"}, "setup.yaml"},
		{etcdexporter.Command, []string{"--listen", "--etcd", "--ca", "--cert", "--key"},
			[]string{"--listen", "127.0.0.1:0", "--etcd", "https://127.0.0.1", "--ca", "/nonexistent/ca.pem", "--cert", "c.pem", "--key", "c.key"}, "/nonexistent/ca.pem"},
		{registryfront.Command, []string{"--listen", "--backend", "--cert", "--key", "--client-ca", "--audit-log"},
			[]string{"--listen", "127.0.0.1:0", "--backend", "http://127.0.0.1:1", "--cert", "c.pem", "--key", "c.key", "--client-ca", "/nonexistent/ca.pem", "--audit-log", "a.log"}, "/nonexistent/ca.pem"},
		{usergrant.Command, []string{"--listen", "--keyserver", "--apiserver", "--root"},
			[]string{"--root", t.TempDir(), "--listen", "127.0.0.1:0", "--keyserver", "127.0.0.1:1"}, "setup.yaml"},
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
		c.SetArgs(tc.args)
		if err := c.Execute(); err == nil || !strings.Contains(err.Error(), tc.argsErr) {
			t.Errorf("%s %q = %v, want an error about %s", name, tc.args, err, tc.argsErr)
		}
		c = tc.command()
		c.SetArgs([]string{"127.0.0.1:0"})
		if err := c.Execute(); err == nil || !strings.Contains(err.Error(), "unknown command") {
			t.Errorf("%s with a positional argument = %v, want it refused", name, err)
		}
		c = tc.command()
		c.SetArgs([]string{"--listen", "127.0.0.1:0"})
		if err := c.Execute(); err == nil || !strings.Contains(err.Error(), "required flag") {
			t.Errorf("%s with flags missing = %v, want a required-flag error", name, err)
		}
	}
}
