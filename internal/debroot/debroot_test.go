package debroot

import (
	"strings"
	"testing"
)

// TestRootRunsDebian: the root is Debian 12 with working dpkg and apt, and
// each test's copy is its own.
func TestRootRunsDebian(t *testing.T) {
	a, b := New(t), New(t)
	out, err := Run(a, "cat", "/etc/debian_version")
	if err != nil || !strings.HasPrefix(string(out), "12.") {
		t.Fatalf("/etc/debian_version: %q %v", out, err)
	}
	for _, argv := range [][]string{{"dpkg", "--version"}, {"apt-get", "--version"}} {
		if out, err := Run(a, argv...); err != nil {
			t.Errorf("%v: %v\n%s", argv, err, out)
		}
	}
	if out, err := Run(a, "touch", "/only-in-a"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if _, err := Run(b, "test", "-e", "/only-in-a"); err == nil {
		t.Error("two roots share their files")
	}
}
