// Command debpkg builds Homeworld's Debian packages from a build's bin
// folder (scripts/build) and prints each package's name, version, size and
// SHA-256. scripts/packages runs it with the version and epoch from git.
// See internal/debpkg.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"homeworld.dev/homeworld/internal/debpkg"
)

func main() {
	var opts debpkg.Options
	var epoch int64
	flag.StringVar(&opts.BinDir, "bin", "bin", "a build's bin folder (scripts/build)")
	flag.StringVar(&opts.OutDir, "out", "packages", "folder to write the .debs into")
	flag.StringVar(&opts.Version, "version", "0.0.0", "the packages' Debian version")
	flag.Int64Var(&epoch, "epoch", 0, "every file's time, in seconds since 1970 (the commit time; default $SOURCE_DATE_EPOCH)")
	flag.StringVar(&opts.Compression, "compression", "gzip:6", "data.tar compression: gzip[:LEVEL], xz or zstd[:LEVEL] (lintian refuses zstd)")
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(opts, epoch); err != nil {
		fmt.Fprintln(os.Stderr, "debpkg:", err)
		os.Exit(1)
	}
}

func run(opts debpkg.Options, epoch int64) error {
	if epoch == 0 {
		if _, err := fmt.Sscan(os.Getenv("SOURCE_DATE_EPOCH"), &epoch); err != nil {
			return fmt.Errorf("give --epoch or SOURCE_DATE_EPOCH (the commit time: git log -1 --format=%%ct)")
		}
	}
	opts.Epoch = time.Unix(epoch, 0).UTC()
	start := time.Now()
	results, err := debpkg.Build(opts)
	if err != nil {
		return err
	}
	var total int64
	for _, r := range results {
		fmt.Printf("%-30s %s %8.1f MB  sha256:%s\n", r.Package, r.Version, float64(r.Size)/1e6, r.SHA256)
		total += r.Size
	}
	fmt.Printf("%d packages, %.1f MB, in %s, into %s\n", len(results), float64(total)/1e6, time.Since(start).Round(10*time.Millisecond), opts.OutDir)
	return nil
}
