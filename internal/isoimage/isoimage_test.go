package isoimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var testFiles = []File{
	{Path: "preseed.cfg", Data: []byte("d-i debian-installer/locale string en_US.UTF-8\n")},
	{Path: "homeworld/hosts", Data: []byte("10.0.0.1 node1\n"), Mode: 0o600},
}

// build writes an ISO of o into a temporary folder and returns its path.
func build(t *testing.T, o Options) string {
	t.Helper()
	o.Out = filepath.Join(t.TempDir(), "node.iso")
	if o.Files == nil {
		o.Files = testFiles
	}
	start := time.Now()
	if err := Build(context.Background(), o); err != nil {
		t.Fatalf("Build: %v", err)
	}
	fi, err := os.Stat(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("measured: build %v, ISO %d bytes (%.1f MiB)", time.Since(start).Round(time.Millisecond), fi.Size(), float64(fi.Size())/(1<<20))
	return o.Out
}

// extract copies file from the ISO with xorriso and returns its bytes.
func extract(t *testing.T, iso, file string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(file))
	run(t, "", nil, "xorriso", "-osirrox", "on", "-indev", iso, "-extract", file, out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func run(t *testing.T, dir string, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestBuild: the ISO boots from BIOS and UEFI, holds the boot files, and
// its initrd is Debian's with the files appended, which the real cpio
// reads back.
func TestBuild(t *testing.T) {
	iso := build(t, Options{})
	r, err := Inspect(iso)
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasBoot("BIOS") || !r.HasBoot("UEFI") {
		t.Errorf("Inspect boot images = %+v, want a BIOS and a UEFI one", r.Boot)
	}
	if r.Volume != VolumeID {
		t.Errorf("Inspect volume = %q, want %q", r.Volume, VolumeID)
	}
	for _, f := range []string{"/isolinux.bin", "/ldlinux.c32", "/isolinux.cfg", "/linux", "/initrd.gz", "/efi.img", "/" + grubPrefix + "/grub.cfg"} {
		if !slices.Contains(r.Files, f) {
			t.Errorf("Inspect files = %v, want %s among them", r.Files, f)
		}
	}

	initrd := extract(t, iso, "/initrd.gz")
	debian, err := os.ReadFile(filepath.Join(DefaultNetboot, "debian-installer/amd64/initrd.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(initrd, debian) {
		t.Fatal("the ISO's initrd.gz does not start with Debian's initrd.gz")
	}
	// The whole is one valid gzip stream of two members, as the kernel
	// reads it. cpio stops at the first archive's trailer, so it reads the
	// appended member alone.
	run(t, "", initrd, "gzip", "-t")
	appended := run(t, "", initrd[len(debian):], "gunzip")
	list := strings.Fields(string(run(t, "", appended, "cpio", "-it", "--quiet")))
	if want := []string{"homeworld", "homeworld/hosts", "preseed.cfg"}; !slices.Equal(list, want) {
		t.Errorf("cpio -it = %v, want %v", list, want)
	}
	dir := t.TempDir()
	run(t, dir, appended, "cpio", "-id", "--quiet", "--no-absolute-filenames")
	for _, f := range testFiles {
		p := filepath.Join(dir, f.Path)
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("%s from cpio = %q, %v; want %q", f.Path, got, err, f.Data)
		}
		want := f.Mode
		if want == 0 {
			want = 0o644
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s from cpio: mode %v, %v; want %v", f.Path, fi.Mode(), err, want)
		}
	}
	// Appended reads back what cpio did.
	back, err := Appended(iso)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(testFiles) {
		t.Errorf("Appended gives %d files, want %d: %+v", len(back), len(testFiles), back)
	}
	for _, w := range testFiles {
		if w.Mode == 0 {
			w.Mode = 0o644
		}
		i := slices.IndexFunc(back, func(f File) bool { return f.Path == w.Path })
		if i < 0 || !bytes.Equal(back[i].Data, w.Data) || back[i].Mode != w.Mode {
			t.Errorf("Appended files %+v, want %s %v %q among them", back, w.Path, w.Mode, w.Data)
		}
	}

	cfg := string(extract(t, iso, "/isolinux.cfg"))
	for _, want := range []string{"default install", "kernel /linux", "append initrd=/initrd.gz auto=true priority=critical preseed/file=/preseed.cfg"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("isolinux.cfg lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "console=") || strings.Contains(cfg, "serial") {
		t.Errorf("isolinux.cfg without Serial names a serial console:\n%s", cfg)
	}
}

// TestReproducible: the same input gives the same bytes, even built at
// another time.
func TestReproducible(t *testing.T) {
	a := build(t, Options{Serial: true, KernelArgs: []string{"netcfg/get_hostname=node1"}})
	time.Sleep(1100 * time.Millisecond) // a second later: no clock in the image
	b := build(t, Options{Serial: true, KernelArgs: []string{"netcfg/get_hostname=node1"}})
	sa, sb := sha256File(t, a), sha256File(t, b)
	if sa != sb {
		t.Fatalf("two builds of the same input differ: %x and %x", sa, sb)
	}
	c := build(t, Options{Serial: true, KernelArgs: []string{"netcfg/get_hostname=node2"}})
	if sha256File(t, c) == sa {
		t.Error("builds with different kernel arguments are the same")
	}
}

func sha256File(t *testing.T, p string) [32]byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestSerial: both bootloaders and the installer use ttyS0.
func TestSerial(t *testing.T) {
	iso := build(t, Options{Serial: true, KernelArgs: []string{"netcfg/get_hostname=node1"}})
	cfg := string(extract(t, iso, "/isolinux.cfg"))
	for _, want := range []string{"serial 0 115200", serialConsole, "netcfg/get_hostname=node1"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("isolinux.cfg lacks %q:\n%s", want, cfg)
		}
	}
	img := filepath.Join(t.TempDir(), "efi.img")
	if err := os.WriteFile(img, extract(t, iso, "/efi.img"), 0o644); err != nil {
		t.Fatal(err)
	}
	grub := string(run(t, "", nil, "mtype", "-i", img, "::/"+grubPrefix+"/grub.cfg"))
	for _, want := range []string{"serial --unit=0 --speed=115200", "terminal_output serial", "linux /linux ", serialConsole, "netcfg/get_hostname=node1", "initrd /initrd.gz"} {
		if !strings.Contains(grub, want) {
			t.Errorf("grub.cfg lacks %q:\n%s", want, grub)
		}
	}
	// Booted from a CD, grub reads grub.cfg from the ISO filesystem.
	if onISO := string(extract(t, iso, "/"+grubPrefix+"/grub.cfg")); onISO != grub {
		t.Errorf("the ISO filesystem's grub.cfg differs from the EFI image's:\n%s", onISO)
	}
	dir := string(run(t, "", nil, "mdir", "-i", img, "-b", "-/", "::/EFI"))
	for _, want := range []string{"::/EFI/BOOT/BOOTX64.EFI", "::/EFI/BOOT/grubx64.efi"} {
		if !strings.Contains(dir, want) {
			t.Errorf("EFI image lacks %s:\n%s", want, dir)
		}
	}
}

// TestErrors: bad input is refused with what to do about it, and no ISO
// is left.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no netboot", Options{Netboot: t.TempDir(), Files: testFiles}, "install debian-installer-12-netboot-amd64"},
		{"no preseed", Options{Files: []File{{Path: "x", Data: nil}}}, "no preseed.cfg"},
		{"absolute path", Options{Files: append([]File{{Path: "/etc/x"}}, testFiles...)}, "clean relative path"},
		{"dot dot", Options{Files: append([]File{{Path: "../x"}}, testFiles...)}, "clean relative path"},
		{"twice", Options{Files: append([]File{{Path: "preseed.cfg"}}, testFiles...)}, "listed twice"},
		{"file and folder", Options{Files: append([]File{{Path: "homeworld"}}, testFiles...)}, "also the folder"},
		{"spaced argument", Options{Files: testFiles, KernelArgs: []string{"a b"}}, "without spaces"},
	} {
		out := filepath.Join(t.TempDir(), "node.iso")
		tc.o.Out = out
		err := Build(context.Background(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Build error = %v, want one saying %q", tc.name, err, tc.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: Build left %s behind", tc.name, out)
		}
	}
}
