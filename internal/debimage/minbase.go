package debimage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Minbase returns an archive of a minimal Debian root (debootstrap's
// minbase variant: apt, dpkg and the essential packages), made from
// Mirror the first time on a machine, in about a minute.
func Minbase(ctx context.Context) (string, error) {
	return Cached(ctx, Suite+"-minbase.tar", func(ctx context.Context, tmp string) error {
		if _, err := exec.LookPath("debootstrap"); err != nil {
			return fmt.Errorf("debootstrap is missing (scripts/install-deps installs it)")
		}
		work := tmp + ".work"
		if err := os.Mkdir(work, 0o755); err != nil {
			return err
		}
		defer os.RemoveAll(work)
		root := filepath.Join(work, "root")
		cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", Suite, root, Mirror())
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("debootstrap %s from %s: %v\n%s", Suite, Mirror(), err, tail(out, 2000))
		}
		return Pack(ctx, root, tmp)
	})
}
