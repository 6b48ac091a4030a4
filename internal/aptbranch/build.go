// Package aptbranch builds Homeworld's apt branches: from a folder of .deb
// files, a signed repository in Debian's pool layout that apt accepts
// (dists/<suite>/{Release,InRelease,Release.gpg},
// dists/<suite>/main/binary-<arch>/Packages[.gz], pool/main/...), published
// at once by swapping a link. It also gives the contents of the
// homeworld-apt-setup package, which points a machine at a branch. Only
// spire imports it: it signs with the branch-signing key.
package aptbranch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"homeworld.dev/homeworld/internal/atomicfile"
	"homeworld.dev/homeworld/internal/provenance"
)

// Signer signs a branch's Release file. branchkey.Key is one.
type Signer interface {
	ClearSign(msg []byte, at time.Time) ([]byte, error)  // InRelease
	DetachSign(msg []byte, at time.Time) ([]byte, error) // Release.gpg, armored
}

// Options says what to build and where.
type Options struct {
	Packages string    // folder of .deb files
	Out      string    // where the branch is served from: a link, swapped per build
	Name     string    // the branch, as in homeworld-<name>.list
	Suite    string    // the distribution in sources.list; default Name
	Date     time.Time // the Release file's Date (zero: now); the same inputs and Date give the same branch
	Signer   Signer
	// Revision is the source the packages were built from (a git commit);
	// when set, each package gets a signed in-toto provenance statement
	// under provenance/ (internal/provenance).
	Revision string
}

// Result describes a published branch.
type Result struct {
	Dir      string // the folder Out links to
	Suite    string
	Packages []*Package
	Changed  bool // false: Out already showed exactly this branch
}

// Build makes the branch and publishes it at Out. Every refusal comes
// before anything is written: an unreadable or missing .deb, two .debs of
// one package, a version lower than the one published (or the same version
// with other contents), something at Out that is not a branch.
func Build(o Options) (*Result, error) {
	if o.Suite == "" {
		o.Suite = o.Name
	}
	if o.Date.IsZero() {
		o.Date = time.Now()
	}
	if err := checkName("branch name", o.Name); err != nil {
		return nil, err
	}
	if err := checkName("suite", o.Suite); err != nil {
		return nil, err
	}
	if o.Signer == nil {
		return nil, errors.New("no signing key")
	}
	if o.Revision != "" && !provenance.IsCommit(o.Revision) {
		return nil, fmt.Errorf("revision %q is not a git commit (40 or 64 hex digits)", o.Revision)
	}
	pkgs, err := scan(o.Packages)
	if err != nil {
		return nil, err
	}
	t, err := newTarget(o.Out)
	if err != nil {
		return nil, err
	}
	before, err := t.current()
	if err != nil {
		return nil, err
	}
	if before != "" {
		published, err := readPublished(o.Out)
		if err != nil {
			return nil, err
		}
		if err := checkForward(pkgs, published); err != nil {
			return nil, err
		}
	}

	// Checked: from here on the branch is written, beside Out.
	if err := os.MkdirAll(t.parent, 0o755); err != nil {
		return nil, err
	}
	unlock, err := t.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if now, err := t.current(); err != nil || now != before {
		return nil, fmt.Errorf("%s changed while this build was checking it; run the build again", o.Out)
	}
	stage, err := t.stage()
	if err != nil {
		return nil, err
	}
	hash, err := write(stage, o, pkgs)
	if err != nil {
		os.RemoveAll(stage)
		return nil, err
	}
	changed, err := t.swap(stage, hash)
	if err != nil {
		os.RemoveAll(stage)
		return nil, err
	}
	return &Result{Dir: filepath.Join(t.parent, t.versionName(hash)), Suite: o.Suite, Packages: pkgs, Changed: changed}, nil
}

// write fills stage with the branch and returns the hash naming it: of
// InRelease, which covers every index, which covers every package.
func write(stage string, o Options, pkgs []*Package) (string, error) {
	for _, p := range pkgs {
		if err := copyChecked(p, filepath.Join(stage, filepath.FromSlash(p.Filename))); err != nil {
			return "", err
		}
	}
	if o.Revision != "" {
		if err := writeProvenance(stage, o, pkgs); err != nil {
			return "", err
		}
	}
	archs := architectures(pkgs)
	indexes := map[string][]byte{}
	for _, arch := range archs {
		dir := path.Join(component, "binary-"+arch)
		idx := packagesIndex(pkgs, arch)
		indexes[path.Join(dir, "Packages")] = idx
		indexes[path.Join(dir, "Packages.gz")] = gzipped(idx)
	}
	rel := release(releaseInfo{name: o.Name, suite: o.Suite, date: o.Date, archs: archs}, indexes)
	inRelease, err := o.Signer.ClearSign(rel, o.Date)
	if err != nil {
		return "", fmt.Errorf("signing InRelease: %w", err)
	}
	detached, err := o.Signer.DetachSign(rel, o.Date)
	if err != nil {
		return "", fmt.Errorf("signing Release.gpg: %w", err)
	}
	dists := filepath.Join(stage, "dists", o.Suite)
	files := map[string][]byte{"Release": rel, "InRelease": inRelease, "Release.gpg": detached}
	for p, data := range indexes {
		files[filepath.FromSlash(p)] = data
	}
	for name, data := range files {
		if err := writeFile(filepath.Join(dists, name), data); err != nil {
			return "", err
		}
	}
	sum := sha256.Sum256(inRelease)
	return hex.EncodeToString(sum[:8]), nil
}

// copyChecked copies a package into the pool, checking that its bytes are
// still those the index will describe.
func copyChecked(p *Package, dest string) error {
	src, err := os.Open(p.Source)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), src)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if hex.EncodeToString(h.Sum(nil)) != p.deb.sha256 {
		return fmt.Errorf("%s changed while the branch was being built", p.Source)
	}
	return nil
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteNew(path, data, 0o644)
}
