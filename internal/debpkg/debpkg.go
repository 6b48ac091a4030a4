// Package debpkg builds Homeworld's Debian packages from a build's bin
// folder (scripts/build's layout), reproducibly: the same files, version and
// epoch give byte-identical .debs in any folder. It holds the package
// definitions and writes the packages with nfpm; cmd/debpkg runs it.
package debpkg

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Where the packages install things on a node.
const (
	// BinDir holds every Homeworld and pinned upstream program: kube-launch
	// runs the programs beside itself, and units point here (the service
	// map's Host.BinDir). Nothing goes to /usr/bin, where Debian's own
	// etcd, etcdctl and kubectl would collide.
	BinDir = "/usr/lib/homeworld/bin"
	// ImagesDir holds the OCI archives and their index.tsv.
	ImagesDir = "/usr/lib/homeworld/images"
	// UnitDir is where Debian 12's packages put systemd units.
	UnitDir = "/lib/systemd/system"
)

// Options says what to build.
type Options struct {
	BinDir  string    // a build's bin folder
	OutDir  string    // where the .debs go
	Version string    // the Debian version of every package
	Epoch   time.Time // every file's mtime and the changelog's date (SOURCE_DATE_EPOCH)
	// Compression of data.tar, as nfpm names it: "gzip:6" by default.
	// Debian 12's dpkg reads zstd too, but its lintian calls data.tar.zst
	// malformed; xz (one thread in nfpm) takes minutes for Kubernetes.
	Compression string
}

// Result is one package written.
type Result struct {
	Package string
	Version string
	File    string // in Options.OutDir
	Size    int64
	SHA256  string
}

// Build writes every package into opts.OutDir. Inputs are checked first:
// a missing file fails the build with an error naming the package and the
// file. The packages are written into a temporary folder inside OutDir and
// moved into place only when all of them are done, so a failed build leaves
// OutDir as it was.
func Build(opts Options) ([]Result, error) {
	opts, err := opts.checked()
	if err != nil {
		return nil, err
	}
	pkgs := All()
	var inputs [][]input
	var missing []error
	for _, p := range pkgs {
		in, errs := p.inputs(opts.BinDir)
		inputs = append(inputs, in)
		missing = append(missing, errs...)
	}
	if err := errors.Join(missing...); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(opts.OutDir, ".debpkg-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)

	// One package per core, the largest first: Kubernetes alone takes
	// most of the time, so it must not start last.
	order := make([]int, len(pkgs))
	for i := range order {
		order[i] = i
	}
	size := func(i int) (n int64) {
		for _, in := range inputs[i] {
			n += in.size
		}
		return n
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(size(b), size(a)) })
	results := make([]Result, len(pkgs))
	errs := make([]error, len(pkgs))
	next := make(chan int, len(order))
	for _, i := range order {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(order)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = pkgs[i].write(opts, inputs[i], stage)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, r := range results {
		final := filepath.Join(opts.OutDir, r.File)
		if err := os.Rename(filepath.Join(stage, r.File), final); err != nil {
			return nil, err
		}
		results[i].File = final
	}
	return results, nil
}

// checked validates opts and fills in the defaults.
func (opts Options) checked() (Options, error) {
	if err := CheckVersion(opts.Version); err != nil {
		return opts, err
	}
	if opts.Epoch.IsZero() {
		return opts, errors.New("debpkg: no epoch: the commit time (SOURCE_DATE_EPOCH) dates every file")
	}
	if opts.Compression == "" {
		opts.Compression = "gzip:6"
	}
	return opts, nil
}

// BuildOne writes package p alone into opts.OutDir (BinDir is not read
// unless p takes files from it), staged and renamed like Build.
func BuildOne(opts Options, p Package) (Result, error) {
	opts, err := opts.checked()
	if err != nil {
		return Result{}, err
	}
	in, errs := p.inputs(opts.BinDir)
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return Result{}, err
	}
	stage, err := os.MkdirTemp(opts.OutDir, ".debpkg-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(stage)
	r, err := p.write(opts, in, stage)
	if err != nil {
		return Result{}, err
	}
	final := filepath.Join(opts.OutDir, r.File)
	if err := os.Rename(filepath.Join(stage, r.File), final); err != nil {
		return Result{}, err
	}
	r.File = final
	return r, nil
}

// digest is the size and SHA-256 of a written package.
func digest(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// FileName is the conventional name of package name's .deb.
func FileName(name, version string) string {
	return fmt.Sprintf("%s_%s_%s.deb", name, version, arch)
}
