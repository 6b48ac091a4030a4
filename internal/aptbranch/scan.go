package aptbranch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// scan reads every .deb directly in dir. It reports every problem at once,
// each naming its file: a .deb that is missing (a dangling link) or cannot
// be read as a package, and two .debs of one package.
func scan(dir string) ([]*Package, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the packages folder: %w", err)
	}
	var pkgs []*Package
	var errs []error
	byName := map[string]*Package{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".deb") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		deb, err := readDeb(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				err = errors.New("missing (a link to nothing?)")
			}
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		p, err := newPackage(path, deb)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		if other, dup := byName[p.Name]; dup {
			errs = append(errs, fmt.Errorf("package %s comes twice: %s (%s) and %s (%s); keep one",
				p.Name, filepath.Base(other.Source), other.Version, filepath.Base(p.Source), p.Version))
			continue
		}
		byName[p.Name] = p
		pkgs = append(pkgs, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("no .deb files in %s", dir)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	return pkgs, nil
}
