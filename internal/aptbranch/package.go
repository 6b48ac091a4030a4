package aptbranch

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"homeworld.dev/homeworld/internal/debversion"
)

// Package is one .deb of a branch.
type Package struct {
	Name     string
	Version  debversion.Version
	Arch     string
	Source   string // the .deb it was read from
	Filename string // its path in the branch, under pool/
	deb      *debFile
}

// Debian Policy 5.6.1 and 5.6.8: package names and architectures.
var (
	packageName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	archName    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

// indexFields are set by the branch, not taken from the control file.
var indexFields = []string{"Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512"}

// newPackage checks the control fields apt relies on and places the .deb
// in the pool the way Debian's archive does:
// pool/main/<prefix>/<source>/<name>_<version without epoch>_<arch>.deb,
// where prefix is the source's first letter, or its first four for lib*.
func newPackage(source string, deb *debFile) (*Package, error) {
	c := deb.control
	name, arch := c.Get("Package"), c.Get("Architecture")
	if !packageName.MatchString(name) {
		return nil, fmt.Errorf("control: Package %q is not a valid package name", name)
	}
	if !archName.MatchString(arch) {
		return nil, fmt.Errorf("control: Architecture %q is not a valid architecture", arch)
	}
	v, err := debversion.Parse(c.Get("Version"))
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	src := name
	if s, _, _ := strings.Cut(c.Get("Source"), " "); packageName.MatchString(s) {
		src = s
	}
	prefix := src[:1]
	if strings.HasPrefix(src, "lib") && len(src) > 3 {
		prefix = src[:4]
	}
	file := fmt.Sprintf("%s_%s_%s.deb", name, v.NoEpoch(), arch)
	return &Package{
		Name: name, Version: v, Arch: arch, Source: source,
		Filename: path.Join("pool", component, prefix, src, file),
		deb:      deb,
	}, nil
}

// stanza is the package's entry in a Packages index: its control fields in
// their order, Description last, with where to fetch it and how to check
// it. Section and Priority default as Debian's archive overrides would, so
// front ends can group and rank the package.
func (p *Package) stanza() Stanza {
	var s Stanza
	for _, f := range p.deb.control {
		if strings.EqualFold(f.Name, "Description") || isIndexField(f.Name) {
			continue
		}
		s = append(s, f)
	}
	if !s.Has("Section") {
		s = append(s, Field{"Section", "misc"})
	}
	if !s.Has("Priority") {
		s = append(s, Field{"Priority", "optional"})
	}
	s = append(s,
		Field{"Filename", p.Filename},
		Field{"Size", fmt.Sprint(p.deb.size)},
		Field{"MD5sum", p.deb.md5},
		Field{"SHA256", p.deb.sha256},
	)
	if d := p.deb.control.Get("Description"); d != "" {
		s = append(s, Field{"Description", d})
	}
	return s
}

func isIndexField(name string) bool {
	for _, f := range indexFields {
		if strings.EqualFold(f, name) {
			return true
		}
	}
	return false
}
