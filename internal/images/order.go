package images

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// orderTags rewrites the archive's manifest.json so its one image lists
// its names in the order given: go-containerregistry collects them from a
// map, so without this an image of several names gives a different archive
// on each write.
func orderTags(src, dst string, refs []string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	r, w := tar.NewReader(in), tar.NewWriter(out)
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if h.Name != "manifest.json" {
			if err := w.WriteHeader(h); err != nil {
				return err
			}
			if _, err := io.Copy(w, r); err != nil {
				return err
			}
			continue
		}
		var m []map[string]any
		if err := json.NewDecoder(r).Decode(&m); err != nil {
			return fmt.Errorf("manifest.json: %w", err)
		}
		if len(m) != 1 {
			return fmt.Errorf("manifest.json: %d images, want 1", len(m))
		}
		m[0]["RepoTags"] = refs
		data, err := json.Marshal(m)
		if err != nil {
			return err
		}
		h.Size = int64(len(data))
		if err := w.WriteHeader(h); err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return out.Close()
}
