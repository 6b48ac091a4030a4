package debpkg

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"

	"homeworld.dev/homeworld/internal/sbom"
	"homeworld.dev/homeworld/internal/services"
)

const arch = "amd64"

// write builds p's .deb in stage from its inputs and the files it
// generates (units, copyright, changelog, maintainer scripts).
func (p Package) write(opts Options, in []input, stage string) (Result, error) {
	gen := filepath.Join(stage, p.Name)
	if err := os.MkdirAll(gen, 0o755); err != nil {
		return Result{}, err
	}
	var contents files.Contents
	file := func(src, dst string, mode fs.FileMode) {
		contents = append(contents, &files.Content{
			Source: src, Destination: dst, Type: files.TypeFile,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: opts.Epoch},
		})
	}
	n := 0
	generated := func(dst string, data []byte, mode fs.FileMode) error {
		n++
		src := filepath.Join(gen, fmt.Sprint(n))
		if err := os.WriteFile(src, data, 0o644); err != nil {
			return err
		}
		file(src, dst, mode)
		return nil
	}

	for _, f := range in {
		file(f.src, f.dst, f.mode)
	}
	for _, f := range p.Files {
		if err := generated(f.Path, f.Data, f.Mode); err != nil {
			return Result{}, err
		}
	}
	for _, name := range p.Units {
		s := services.MustGet(name)
		if err := generated(filepath.Join(UnitDir, s.Unit()), []byte(services.PackageUnit(s, BinDir)), 0o644); err != nil {
			return Result{}, err
		}
	}
	doc := filepath.Join("/usr/share/doc", p.Name)
	// Each program's SBOM, from the build information in it.
	for _, f := range in {
		if f.mode&0o111 == 0 {
			continue
		}
		bom, err := sbom.ForBinary(f.src)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", p.Name, err)
		}
		if err := generated(filepath.Join(doc, "sbom", filepath.Base(f.dst)+".cdx.json"), bom, 0o644); err != nil {
			return Result{}, err
		}
	}
	if err := generated(filepath.Join(doc, "copyright"), []byte(p.copyright(opts.Epoch)), 0o644); err != nil {
		return Result{}, err
	}
	cl, err := p.changelog(opts.Version, opts.Epoch)
	if err != nil {
		return Result{}, err
	}
	if err := generated(filepath.Join(doc, "changelog.gz"), cl, 0o644); err != nil {
		return Result{}, err
	}
	if o := p.lintianOverrides(); o != "" {
		if err := generated(filepath.Join("/usr/share/lintian/overrides", p.Name), []byte(o), 0o644); err != nil {
			return Result{}, err
		}
	}
	var scripts nfpm.Scripts
	if len(p.Units) > 0 {
		script := filepath.Join(gen, "reload")
		if err := os.WriteFile(script, []byte(reloadScript), 0o755); err != nil {
			return Result{}, err
		}
		scripts.PostInstall, scripts.PostRemove = script, script
	}

	depends := p.Debian
	for _, d := range p.Needs {
		depends = append(depends, fmt.Sprintf("%s (= %s)", d, opts.Version))
	}
	info := &nfpm.Info{
		Name: p.Name, Arch: arch, Platform: "linux", Version: opts.Version, VersionSchema: "none",
		Section: p.Section, Priority: "optional", Maintainer: Maintainer,
		Description:     p.description(),
		DisableGlobbing: true,
		MTime:           opts.Epoch.UTC().Truncate(time.Second),
		Overridables: nfpm.Overridables{
			Depends:  depends,
			Contents: contents,
			Scripts:  scripts,
			Deb:      nfpm.Deb{Compression: opts.Compression},
		},
	}
	name := FileName(p.Name, opts.Version)
	path := filepath.Join(stage, name)
	out, err := os.Create(path)
	if err != nil {
		return Result{}, err
	}
	if err := deb.Default.Package(info, out); err != nil {
		out.Close()
		return Result{}, fmt.Errorf("%s: %w", p.Name, err)
	}
	if err := out.Close(); err != nil {
		return Result{}, err
	}
	size, sum, err := digest(path)
	if err != nil {
		return Result{}, err
	}
	return Result{Package: p.Name, Version: opts.Version, File: name, Size: size, SHA256: sum}, nil
}
