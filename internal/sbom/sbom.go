// Package sbom describes a Go binary as a CycloneDX SBOM (JSON, spec 1.6)
// from the build information the Go toolchain embeds in every binary
// (debug/buildinfo): the main module, each module linked in with its
// version and go.sum hash, the Go version and the build settings. Nothing
// is guessed from source folders, so the SBOM says what the binary holds.
// The output is reproducible: no timestamp, and a serial number derived
// from the binary's own SHA-256. cmd/sbom writes one per binary; the
// packages ship them.
package sbom

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// Spec is the CycloneDX version written.
const Spec = cdx.SpecVersion1_6

// ForBinary returns the SBOM of the Go binary at path.
func ForBinary(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	info, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: no Go build information: %w", path, err)
	}
	sum := sha256.Sum256(data)
	bom := build(filepath.Base(path), hex.EncodeToString(sum[:]), info)
	var out bytes.Buffer
	if err := encode(&out, bom); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func encode(w io.Writer, bom *cdx.BOM) error {
	return cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetPretty(true).EncodeVersion(bom, Spec)
}

func build(name, sha string, info *debug.BuildInfo) *cdx.BOM {
	bom := cdx.NewBOM()
	bom.SerialNumber = serial(sha)
	main := cdx.Component{
		BOMRef: "binary:" + name, Type: cdx.ComponentTypeApplication, Name: name,
		Version:    version(info.Main.Version),
		Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: sha}},
		Properties: settings(info),
	}
	if info.Main.Path != "" {
		main.Group, main.PackageURL = info.Main.Path, purl(info.Main.Path, info.Main.Version)
	}
	bom.Metadata = &cdx.Metadata{Component: &main}

	goRef := "pkg:golang/std@" + info.GoVersion
	components := []cdx.Component{{BOMRef: goRef, Type: cdx.ComponentTypeLibrary, Name: "std", Group: "go", Version: info.GoVersion,
		PackageURL: goRef, Description: "the Go standard library and runtime this binary was built with"}}
	refs := []string{goRef}
	for _, d := range info.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		c := cdx.Component{Type: cdx.ComponentTypeLibrary, Name: m.Path, Version: version(m.Version), PackageURL: purl(m.Path, m.Version)}
		c.BOMRef = c.PackageURL
		props := []cdx.Property{}
		if m.Sum != "" {
			props = append(props, cdx.Property{Name: "homeworld:go:sum", Value: m.Sum})
		}
		if d.Replace != nil {
			props = append(props, cdx.Property{Name: "homeworld:go:replaces", Value: d.Path + "@" + d.Version})
		}
		if len(props) > 0 {
			c.Properties = &props
		}
		components = append(components, c)
		refs = append(refs, c.BOMRef)
	}
	bom.Components = &components
	bom.Dependencies = &[]cdx.Dependency{{Ref: main.BOMRef, Dependencies: &refs}}
	return bom
}

// settings are the build's settings (-trimpath, CGO_ENABLED, ldflags, VCS
// revision...) as properties.
func settings(info *debug.BuildInfo) *[]cdx.Property {
	props := []cdx.Property{{Name: "homeworld:go:version", Value: info.GoVersion}}
	for _, s := range info.Settings {
		props = append(props, cdx.Property{Name: "homeworld:go:build:" + s.Key, Value: s.Value})
	}
	return &props
}

// version is a module version as the SBOM writes it; a main module built
// from a checkout has none.
func version(v string) string {
	if v == "" || v == "(devel)" {
		return "devel"
	}
	return v
}

// purl is the package URL of a Go module (purl's golang type: the path's
// last element is the name, the rest the namespace).
func purl(path, v string) string {
	return "pkg:golang/" + strings.ToLower(path) + "@" + version(v)
}

// serial is a version-5-shaped UUID URN derived from the binary's hash, so
// the same binary always gets the same SBOM.
func serial(sha string) string {
	h := sha256.Sum256([]byte("homeworld-sbom:" + sha))
	u := h[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
