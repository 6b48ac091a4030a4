package isoimage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// xorrisoBuild writes the hybrid ISO of root to out: BIOS El Torito with
// isolinux, UEFI El Torito with the EFI image, and an MBR and GPT so that
// the same file boots written to a USB stick.
func xorrisoBuild(ctx context.Context, root, out string, epoch time.Time) error {
	args := []string{"-as", "mkisofs",
		"-o", out,
		"-iso-level", "3", "-r", "-V", VolumeID,
		"--modification-date=" + epoch.Format("2006010215040500"),
		"-isohybrid-mbr", isohybridMBR,
		"-c", "boot.cat",
		"-b", "isolinux.bin", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
		"-eltorito-alt-boot",
		"-e", efiImage, "-no-emul-boot", "-isohybrid-gpt-basdat",
		root,
	}
	cmd := exec.CommandContext(ctx, "xorriso", args...)
	// xorriso takes its volume dates, file dates and GPT GUIDs from
	// SOURCE_DATE_EPOCH, which makes the ISO reproducible.
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(epoch.Unix(), 10), "TZ=UTC")
	if b, err := cmd.CombinedOutput(); err != nil {
		if _, lookErr := exec.LookPath("xorriso"); lookErr != nil {
			return fmt.Errorf("xorriso is missing: install Debian's xorriso package")
		}
		return fmt.Errorf("xorriso: %v: %s", err, b)
	}
	return nil
}
