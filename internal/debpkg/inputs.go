package debpkg

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"homeworld.dev/homeworld/internal/images"
)

// input is one file of the bin folder that a package installs.
type input struct {
	src, dst string
	mode     fs.FileMode
	size     int64
}

// inputs lists the bin folder's files that p installs, and an error for
// each one that is missing, naming the package and the file.
func (p Package) inputs(binDir string) ([]input, []error) {
	var in []input
	var errs []error
	add := func(src, dst string, mode fs.FileMode) {
		fi, err := os.Stat(src)
		var pe *fs.PathError
		switch {
		case errors.As(err, &pe):
			errs = append(errs, fmt.Errorf("%s needs %s: %w", p.Name, src, pe.Err))
		case err != nil:
			errs = append(errs, fmt.Errorf("%s needs %s: %w", p.Name, src, err))
		case !fi.Mode().IsRegular():
			errs = append(errs, fmt.Errorf("%s needs %s: not a regular file", p.Name, src))
		default:
			in = append(in, input{src: src, dst: dst, mode: mode, size: fi.Size()})
		}
	}
	for _, b := range p.Bins {
		add(filepath.Join(binDir, b), filepath.Join(BinDir, b), 0o755)
	}
	if p.Images {
		dir := filepath.Join(binDir, "images")
		index := filepath.Join(dir, images.IndexFile)
		if _, err := os.Stat(index); err != nil {
			add(index, "", 0) // reports it
			return in, errs
		}
		built, err := images.ReadIndex(dir)
		if err != nil {
			return in, append(errs, fmt.Errorf("%s: %w", p.Name, err))
		}
		add(index, filepath.Join(ImagesDir, images.IndexFile), 0o644)
		for _, b := range built {
			add(b.Archive(dir), filepath.Join(ImagesDir, filepath.Base(b.Archive(dir))), 0o644)
		}
	}
	return in, errs
}
