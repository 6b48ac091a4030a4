package isoimage

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// isolinuxBin is the BIOS El Torito loader, from Debian's isolinux package.
// Its ldlinux.c32 comes from the netboot folder: both are syslinux 6.04
// as Debian 12 builds it, and they must match.
const isolinuxBin = "/usr/lib/ISOLINUX/isolinux.bin"

// isohybridMBR makes the ISO bootable from a USB stick too.
const isohybridMBR = "/usr/lib/ISOLINUX/isohdpfx.bin"

// netboot is where each file the ISO takes from Debian comes from.
type netboot struct {
	linux, initrd, ldlinux, isolinux, mbr string
	shim, grub                            string
}

// findNetboot checks that every file exists, naming the Debian package to
// install for what is missing.
func findNetboot(dir string) (netboot, error) {
	amd64 := filepath.Join(dir, "debian-installer", "amd64")
	n := netboot{
		linux:    filepath.Join(amd64, "linux"),
		initrd:   filepath.Join(amd64, "initrd.gz"),
		ldlinux:  filepath.Join(amd64, "boot-screens", "ldlinux.c32"),
		shim:     filepath.Join(amd64, "bootnetx64.efi"),
		grub:     filepath.Join(amd64, "grubx64.efi"),
		isolinux: isolinuxBin,
		mbr:      isohybridMBR,
	}
	for _, f := range []string{n.linux, n.initrd, n.ldlinux, n.shim, n.grub} {
		if _, err := os.Stat(f); err != nil {
			return n, fmt.Errorf("the Debian netboot installer is missing %s: install debian-installer-12-netboot-amd64 (or give the folder holding debian-installer/amd64)", f)
		}
	}
	for _, f := range []string{n.isolinux, n.mbr} {
		if _, err := os.Stat(f); err != nil {
			return n, fmt.Errorf("%s is missing: install Debian's isolinux package", f)
		}
	}
	return n, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
