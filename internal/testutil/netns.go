package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// netnsPayload carries the outer run's payload into the copy of the test
// binary that runs in the private network namespace.
const netnsPayload = "HOMEWORLD_TEST_NETNS_PAYLOAD"

// InPrivateNetns runs test t again in a private network namespace with
// loopback up, where it may listen on the service map's own ports and add
// addresses and links without touching the machine's network. Outside, it
// computes payload (e.g. building a binary, which needs the machine's
// network), runs the copy, reports its output and returns inside=false: the
// caller returns. Inside the copy it returns the payload and inside=true.
// It needs root, as the tests that use it do in CI, and only works for
// top-level tests.
func InPrivateNetns(t *testing.T, payload func() string) (value string, inside bool) {
	t.Helper()
	return inPrivate(t, []string{"--net"}, payload)
}

// InPrivateNetnsAndMounts is InPrivateNetns with a private mount namespace
// too, for a test that mounts (a virtual node's own /sys).
func InPrivateNetnsAndMounts(t *testing.T, payload func() string) (value string, inside bool) {
	t.Helper()
	return inPrivate(t, []string{"--net", "--mount", "--propagation", "private"}, payload)
}

func inPrivate(t *testing.T, unshare []string, payload func() string) (value string, inside bool) {
	t.Helper()
	if v, ok := os.LookupEnv(netnsPayload); ok {
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			t.Fatalf("ip link set lo up: %v: %s", err, out)
		}
		return v, true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: a private network namespace")
	}
	args := append(append(unshare, "--", os.Args[0]), "-test.run", "^"+t.Name()+"$", "-test.v")
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), netnsPayload+"="+payload())
	out, err := cmd.CombinedOutput()
	t.Logf("in a private network namespace:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	return "", false
}
