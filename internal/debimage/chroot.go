package debimage

import (
	"context"
	"os/exec"
)

// Env is the clean environment of commands run in a root: nothing from the
// caller's (locale, proxies, test variables) leaks into the Debian tools.
var Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive", "LANG=C.UTF-8"}

// Chroot runs argv inside root with Env and returns its combined output.
// Nothing is mounted: apt-get and dpkg work without /proc, and no mount
// can outlive the call.
func Chroot(ctx context.Context, root string, argv ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "chroot", append([]string{root}, argv...)...)
	cmd.Env = Env
	return cmd.CombinedOutput()
}
