package flannelmonitor

import (
	"strings"
	"testing"
)

// TestCommandLine: two roles; each refuses to start without the pod's
// identity or, for the monitor, the pod network.
func TestCommandLine(t *testing.T) {
	t.Setenv("POD_NAME", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"monitor"}, `required flag(s) "pod-network" not set`},
		{[]string{"monitor", "--pod-network", "nonsense"}, "--pod-network: netip.ParsePrefix"},
		{[]string{"monitor", "--pod-network", "10.32.0.0/12"}, "POD_NAME and POD_NAMESPACE must name this pod"},
		{[]string{"collector"}, "POD_NAME and POD_NAMESPACE must name this pod"},
		{[]string{"collector", "extra"}, `unknown command "extra"`},
		{[]string{"reflector"}, `unknown command "reflector"`},
	} {
		c := Command()
		c.SetArgs(tc.args)
		if err := c.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("flannel-monitor %q = %v, want %s", tc.args, err, tc.want)
		}
	}
	var names []string
	for _, sub := range Command().Commands() {
		names = append(names, sub.Name())
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "collector monitor") {
		t.Errorf("subcommands %s", got)
	}
}
