package tree

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"testing"
)

// TestEveryPackageHasOneDoc fails when a package has no doc comment, or has
// doc comments in more than one file, so each package says once what it is.
func TestEveryPackageHasOneDoc(t *testing.T) {
	docs := map[string][]string{} // package dir -> files with a doc comment
	seen := map[string]bool{}
	for _, path := range goFiles(t, false) {
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Dir(path)
		seen[dir] = true
		if f.Doc != nil {
			docs[dir] = append(docs[dir], filepath.Base(path))
		}
	}
	for dir := range seen {
		switch n := len(docs[dir]); {
		case n == 0:
			t.Errorf("package %s has no doc comment", dir)
		case n > 1:
			t.Errorf("package %s has doc comments in %v; keep one", dir, docs[dir])
		}
	}
}
