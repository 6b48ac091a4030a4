package isoimage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// efiImage is the El Torito UEFI boot image, a FAT filesystem, in the ISO.
const efiImage = "efi.img"

// grubPrefix is where Debian's netboot grubx64.efi reads grub.cfg: its
// built-in prefix, on the device it was loaded from. From a CD that is the
// ISO filesystem, (cd0): grub sees no El Torito image as a device of its
// own. From a USB stick it is the EFI partition, the EFI image.
const grubPrefix = "debian-installer/amd64/grub"

// makeEFIImage writes the EFI image to out. Firmware starts
// /EFI/BOOT/BOOTX64.EFI: Debian's shim (bootnetx64.efi), which Secure Boot
// firmware trusts and which starts grubx64.efi beside it; without Secure
// Boot, shim starts it all the same.
func makeEFIImage(ctx context.Context, work, out string, src netboot, grubCfg string, epoch time.Time) error {
	boot := filepath.Join(work, "EFI", "BOOT")
	cfgDir := filepath.Join(work, filepath.FromSlash(grubPrefix))
	for _, d := range []string{boot, cfgDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := copyFile(src.shim, filepath.Join(boot, "BOOTX64.EFI")); err != nil {
		return err
	}
	if err := copyFile(src.grub, filepath.Join(boot, "grubx64.efi")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "grub.cfg"), []byte(grubCfg), 0o644); err != nil {
		return err
	}
	if err := setTimes(work, epoch); err != nil {
		return err
	}
	size, err := treeSize(work)
	if err != nil {
		return err
	}
	// mformat's geometry of 64 heads and 32 sectors makes a cylinder 1 MiB;
	// one spare MiB holds the FAT and directories.
	mib := size>>20 + 2
	env := append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "SOURCE_DATE_EPOCH="+strconv.FormatInt(epoch.Unix(), 10), "TZ=UTC")
	// A fixed serial number (-N) and mcopy -m, which keeps the staged
	// times, make the image the same each run.
	cmds := [][]string{
		{"mformat", "-C", "-i", out, "-t", strconv.FormatInt(mib, 10), "-h", "64", "-s", "32", "-N", "484f4d45", "-v", "HWEFI", "::"},
		{"mcopy", "-s", "-m", "-i", out, filepath.Join(work, "EFI"), filepath.Join(work, "debian-installer"), "::/"},
	}
	for _, c := range cmds {
		cmd := exec.CommandContext(ctx, c[0], c[1:]...)
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			if _, lookErr := exec.LookPath(c[0]); lookErr != nil {
				return fmt.Errorf("%s is missing: install Debian's mtools package", c[0])
			}
			return fmt.Errorf("making the EFI boot image: %s: %v: %s", c[0], err, b)
		}
	}
	return nil
}

func treeSize(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

// setTimes dates everything under dir to t.
func setTimes(dir string, t time.Time) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, t, t)
	})
}
