// Package images builds container images from files Homeworld has built or
// the machine's Debian packages provide, as OCI images written to archives
// that containerd imports directly: no Dockerfile, no daemon, no registry,
// nothing pulled. Images are reproducible: one layer whose entries are
// sorted, owned by root and dated at the Unix epoch, so the same files
// always give the same digest. cmd/imagebuild uses it.
package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// File is one entry of an image's filesystem: a regular file (Data), a
// symbolic link (Link) or a directory (Dir).
type File struct {
	Path string // absolute, e.g. /bin/sh
	Mode int64  // permission bits; 0 means 0644 for files, 0755 for directories
	Data []byte
	Link string
	Dir  bool
}

// Spec is one image: its files and how it runs.
type Spec struct {
	Files      []File // a later entry for a path replaces an earlier one
	Entrypoint []string
	Cmd        []string
	Env        []string // NAME=VALUE
	User       string   // e.g. 65534:65534; empty means root
}

// Binary is the spec of a single-binary image: the static executable at
// binary, placed at path and run as nobody. Homeworld's own images are these.
func Binary(binary, path string) (Spec, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return Spec{}, err
	}
	return Spec{
		Files:      []File{{Path: path, Mode: 0o755, Data: data}},
		Entrypoint: []string{path},
		User:       "65534:65534",
	}, nil
}

// epoch is every timestamp in the images, so the same files always give the
// same image digest.
var epoch = time.Unix(0, 0).UTC()

// entries checks the spec's files, keeps the last entry for each path, adds
// the parent directories nobody named, and sorts them so that every
// directory comes before what it holds.
func entries(files []File) ([]File, error) {
	byPath := map[string]File{}
	for _, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return nil, fmt.Errorf("%q is not a clean absolute path of a file", f.Path)
		}
		if f.Dir && (f.Link != "" || f.Data != nil) || f.Link != "" && f.Data != nil {
			return nil, fmt.Errorf("%s: an entry is a file, a link or a directory, not several", f.Path)
		}
		if f.Mode&^0o7777 != 0 {
			return nil, fmt.Errorf("%s: mode %o has bits beyond permissions", f.Path, f.Mode)
		}
		byPath[f.Path] = f
	}
	for p := range byPath {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if e, ok := byPath[d]; ok {
				if !e.Dir {
					return nil, fmt.Errorf("%s: %s is not a directory", p, d)
				}
				continue
			}
			byPath[d] = File{Path: d, Dir: true}
		}
	}
	out := make([]File, 0, len(byPath))
	for _, f := range byPath {
		out = append(out, f)
	}
	// A parent's path is a prefix of its children's, so it sorts first.
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// layer is the tar stream of files, in the order given.
func layer(files []File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.Path[1:], Mode: f.Mode, ModTime: epoch}
		switch {
		case f.Dir:
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
			if h.Mode == 0 {
				h.Mode = 0o755
			}
		case f.Link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.Link, 0o777
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Data))
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Build makes the image of s.
func Build(s Spec) (v1.Image, error) {
	files, err := entries(s.Files)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("an image needs at least one file")
	}
	data, err := layer(files)
	if err != nil {
		return nil, err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Created = v1.Time{Time: epoch}
	cfg.Config.Entrypoint = s.Entrypoint
	cfg.Config.Cmd = s.Cmd
	cfg.Config.Env = s.Env
	cfg.Config.User = s.User
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, v1.Time{Time: epoch})
}

// WriteArchive writes img, tagged with every one of refs, as an archive
// containerd imports.
func WriteArchive(file string, refs []string, img v1.Image) error {
	if len(refs) == 0 {
		return fmt.Errorf("%s: an image archive needs at least one name", file)
	}
	tagged := map[name.Reference]v1.Image{}
	for _, ref := range refs {
		tag, err := name.NewTag(ref, name.StrictValidation)
		if err != nil {
			return fmt.Errorf("image name %q: %w", ref, err)
		}
		tagged[tag] = img
	}
	tmp := file + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, tagged); err != nil {
		os.Remove(tmp)
		return err
	}
	defer os.Remove(tmp)
	if len(refs) > 1 {
		ordered := file + ".ordered"
		defer os.Remove(ordered)
		if err := orderTags(tmp, ordered, refs); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		return os.Rename(ordered, file)
	}
	return os.Rename(tmp, file)
}
