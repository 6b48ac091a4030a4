package isoimage

import (
	"bytes"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// Report is what Inspect reads from an ISO.
type Report struct {
	Volume string
	Boot   []BootImage // El Torito boot images, in catalog order
	Files  []string    // absolute paths of the regular files, sorted
}

// BootImage is one El Torito boot image.
type BootImage struct {
	Platform string // "BIOS" or "UEFI"
	Path     string // the image's file in the ISO, such as /isolinux.bin
}

// Inspect reads the volume label, El Torito boot images and files of the
// ISO at path with xorriso.
func Inspect(path string) (Report, error) {
	cmd := exec.Command("xorriso", "-indev", path, "-report_el_torito", "plain", "-find", "/", "-type", "f")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Report{}, fmt.Errorf("xorriso reading %s: %v: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	var r Report
	platforms := map[int]string{}
	paths := map[int]string{}
	// xorriso reports the volume with the drive, on stderr; the rest
	// comes on stdout.
	for _, line := range strings.Split(stderr.String()+"\n"+string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "Volume id    :"):
			r.Volume = unquote(strings.TrimSpace(strings.TrimPrefix(line, "Volume id    :")))
		case strings.HasPrefix(line, "El Torito boot img :"):
			// N  Pltf  B  Emul  Ld_seg  Hdpt  Ldsiz  LBA
			f := strings.Fields(strings.TrimPrefix(line, "El Torito boot img :"))
			if len(f) >= 2 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					platforms[n] = f[1]
				}
			}
		case strings.HasPrefix(line, "El Torito img path :"):
			f := strings.Fields(strings.TrimPrefix(line, "El Torito img path :"))
			if len(f) >= 2 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					paths[n] = strings.Join(f[1:], " ")
				}
			}
		case strings.HasPrefix(line, "'") && strings.HasSuffix(line, "'"):
			r.Files = append(r.Files, unquote(line))
		}
	}
	for n := 1; platforms[n] != ""; n++ {
		r.Boot = append(r.Boot, BootImage{Platform: platforms[n], Path: paths[n]})
	}
	sort.Strings(r.Files)
	return r, nil
}

// unquote undoes xorriso's shell quoting of a name: 'it'"'"'s' is it's.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		s = s[1 : len(s)-1]
	}
	return strings.ReplaceAll(s, `'"'"'`, `'`)
}

// HasBoot reports whether the ISO has an El Torito boot image for platform
// ("BIOS" or "UEFI").
func (r Report) HasBoot(platform string) bool {
	for _, b := range r.Boot {
		if b.Platform == platform {
			return true
		}
	}
	return false
}
