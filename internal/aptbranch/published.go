package aptbranch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"homeworld.dev/homeworld/internal/debversion"
)

// entry is one package of the branch already published.
type entry struct {
	name, arch, sha256 string
	version            debversion.Version
}

// readPublished reads every Packages index of the branch at dir.
func readPublished(dir string) ([]entry, error) {
	indexes, err := filepath.Glob(filepath.Join(dir, "dists", "*", "*", "binary-*", "Packages"))
	if err != nil {
		return nil, err
	}
	var out []entry
	for _, path := range indexes {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		stanzas, err := parseStanzas(string(data))
		if err != nil {
			return nil, fmt.Errorf("the published %s: %w", path, err)
		}
		for _, s := range stanzas {
			v, err := debversion.Parse(s.Get("Version"))
			if err != nil {
				return nil, fmt.Errorf("the published %s: %s: %w", path, s.Get("Package"), err)
			}
			out = append(out, entry{s.Get("Package"), s.Get("Architecture"), s.Get("SHA256"), v})
		}
	}
	return out, nil
}

// checkForward refuses a package whose version is lower than the one
// published, which apt would never install as an upgrade, and a package
// republished under the same version with other contents, which machines
// that installed the first would silently keep.
func checkForward(pkgs []*Package, published []entry) error {
	var errs []error
	seen := map[string]bool{}
	for _, p := range pkgs {
		for _, e := range published {
			if e.name != p.Name {
				continue
			}
			c := debversion.Compare(p.Version, e.version)
			var err error
			switch {
			case c < 0:
				err = fmt.Errorf("%s: version goes backwards: %s is older than the published %s; give it a version above %s",
					p.Source, p.Version, e.version, e.version)
			case c == 0 && e.arch == p.Arch && e.sha256 != p.deb.sha256:
				err = fmt.Errorf("%s: %s %s is already published with different contents; give the new build a higher version",
					p.Source, p.Name, p.Version)
			}
			if err != nil && !seen[err.Error()] {
				seen[err.Error()] = true
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
