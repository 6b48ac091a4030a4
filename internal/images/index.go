package images

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/renameio/v2"
)

// IndexFile, beside the archives, records what the build made: each
// image's archive name, its references and its digest. spire registry push
// refuses an archive that no longer matches it.
const IndexFile = "index.tsv"

// Built is one line of the index.
type Built struct {
	Name   string   // archive NAME.tar
	Refs   []string // e.g. homeworld.private/pause:1
	Digest v1.Hash
}

// Archive is the path of b's archive in dir.
func (b Built) Archive(dir string) string { return filepath.Join(dir, b.Name+".tar") }

// WriteIndex replaces dir's index with built, atomically.
func WriteIndex(dir string, built []Built) error {
	var buf bytes.Buffer
	for _, b := range built {
		fmt.Fprintf(&buf, "%s\t%s\t%s\n", b.Name, strings.Join(b.Refs, ","), b.Digest)
	}
	return renameio.WriteFile(filepath.Join(dir, IndexFile), buf.Bytes(), 0o644)
}

// ReadIndex reads dir's index; a malformed line is an error naming it.
func ReadIndex(dir string) ([]Built, error) {
	path := filepath.Join(dir, IndexFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w (scripts/build writes it with the images)", err)
	}
	var out []Built
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 || f[0] == "" || f[1] == "" {
			return nil, fmt.Errorf("%s:%d: want NAME<tab>REF[,REF...]<tab>DIGEST", path, line)
		}
		h, err := v1.NewHash(f[2])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: digest: %w", path, line, err)
		}
		out = append(out, Built{Name: f[0], Refs: strings.Split(f[1], ","), Digest: h})
	}
	return out, nil
}
