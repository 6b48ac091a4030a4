package aptbranch

import (
	"bytes"
	"compress/gzip"
	"sort"
	"strings"
)

// component is the one archive area a branch has.
const component = "main"

// architectures lists the binary indexes a branch has: one per concrete
// architecture among its packages (amd64 when all are "all"), each listing
// that architecture's packages and the "all" ones.
func architectures(pkgs []*Package) []string {
	set := map[string]bool{}
	for _, p := range pkgs {
		if p.Arch != "all" {
			set[p.Arch] = true
		}
	}
	if len(set) == 0 {
		set["amd64"] = true
	}
	var out []string
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// packagesIndex is the Packages file of one architecture: one paragraph
// per package, in name order, separated by blank lines.
func packagesIndex(pkgs []*Package, arch string) []byte {
	var parts []string
	for _, p := range pkgs {
		if p.Arch == arch || p.Arch == "all" {
			parts = append(parts, p.stanza().String())
		}
	}
	return []byte(strings.Join(parts, "\n"))
}

// gzipped compresses with a fixed level and an empty header (no name, no
// time), so the same index always gives the same bytes.
func gzipped(data []byte) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) // a valid level never fails
	w.Write(data)
	w.Close()
	return b.Bytes()
}
