// Package isoimage builds a node's installer ISO: Debian's netboot
// installer (kernel and initrd from debian-installer-12-netboot-amd64) with
// the node's preseed and files appended to the initrd, bootable from BIOS
// (isolinux) and UEFI (shim and grub in an El Torito EFI image), and written
// byte for byte the same for the same input. spire iso gen uses it.
package isoimage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// DefaultNetboot is where debian-installer-12-netboot-amd64 installs the
// text-mode netboot installer.
const DefaultNetboot = "/usr/lib/debian-installer/images/12/amd64/text"

// DefaultEpoch dates everything in the image when Options.Epoch is zero:
// Debian 12's release day, so that the same input gives the same ISO.
var DefaultEpoch = time.Date(2023, 6, 10, 0, 0, 0, 0, time.UTC)

// VolumeID is the ISO's volume label.
const VolumeID = "HOMEWORLD"

// File is a file added to the root of the installer's initrd.
type File struct {
	Path string // relative, such as "preseed.cfg" or "homeworld/hosts"
	Data []byte
	Mode os.FileMode // permission bits; 0644 when zero
}

// Options describe one ISO.
type Options struct {
	Out   string // the ISO to write
	Files []File // must hold preseed.cfg, which the installer reads
	// Serial puts the bootloaders and the installer on ttyS0 at
	// 115200n8, for machines reached through a serial console.
	Serial     bool
	KernelArgs []string // more installer kernel arguments
	Netboot    string   // the netboot installer folder; DefaultNetboot when empty
	Epoch      time.Time
}

// Build writes the ISO o describes to o.Out, replacing it only once it is
// complete. It runs xorriso and mtools.
func Build(ctx context.Context, o Options) error {
	if o.Out == "" {
		return fmt.Errorf("no output path given for the ISO")
	}
	if o.Netboot == "" {
		o.Netboot = DefaultNetboot
	}
	if o.Epoch.IsZero() {
		o.Epoch = DefaultEpoch
	}
	if o.Epoch.Year() < 1980 {
		return fmt.Errorf("epoch %s is before 1980, which FAT cannot date; give a later one", o.Epoch)
	}
	o.Epoch = o.Epoch.UTC().Truncate(time.Second)
	src, err := findNetboot(o.Netboot)
	if err != nil {
		return err
	}
	if !hasFile(o.Files, "preseed.cfg") {
		return fmt.Errorf("no preseed.cfg among the initrd files: the installer would stop at its first question")
	}
	args, err := kernelArgs(o)
	if err != nil {
		return err
	}
	// The work folder sits beside the ISO so that the last step is a
	// rename on one filesystem.
	stage, err := os.MkdirTemp(filepath.Dir(o.Out), ".isoimage-")
	if err != nil {
		return fmt.Errorf("making a work folder beside the ISO: %w", err)
	}
	defer os.RemoveAll(stage)
	root := filepath.Join(stage, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	var initrd bytes.Buffer
	if err := writeInitrd(&initrd, src.initrd, o.Files, o.Epoch); err != nil {
		return err
	}
	copies := map[string]string{"isolinux.bin": src.isolinux, "ldlinux.c32": src.ldlinux, "linux": src.linux}
	for name, from := range copies {
		if err := copyFile(from, filepath.Join(root, name)); err != nil {
			return err
		}
	}
	writes := map[string][]byte{
		"initrd.gz":    initrd.Bytes(),
		"isolinux.cfg": []byte(isolinuxConfig(o.Serial, args)),
		markerFile:     []byte("Homeworld node installer\n"),
	}
	for name, data := range writes {
		if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
			return err
		}
	}
	grub := grubConfig(o.Serial, args)
	// Booted from a CD, grub takes the ISO filesystem as its root device,
	// not the EFI image, and reads its prefix there: it needs grub.cfg on
	// both. (From a USB stick it reads the EFI partition's.)
	cdPrefix := filepath.Join(root, filepath.FromSlash(grubPrefix))
	if err := os.MkdirAll(cdPrefix, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cdPrefix, "grub.cfg"), []byte(grub), 0o644); err != nil {
		return err
	}
	if err := makeEFIImage(ctx, filepath.Join(stage, "efi"), filepath.Join(root, efiImage), src, grub, o.Epoch); err != nil {
		return err
	}
	if err := setTimes(root, o.Epoch); err != nil {
		return err
	}
	tmp := filepath.Join(stage, "out.iso")
	if err := xorrisoBuild(ctx, root, tmp, o.Epoch); err != nil {
		return err
	}
	return os.Rename(tmp, o.Out)
}

func hasFile(files []File, p string) bool {
	for _, f := range files {
		if f.Path == p {
			return true
		}
	}
	return false
}
