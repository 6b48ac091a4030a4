// Command imagebuild packs files into container image archives:
//
//	imagebuild OUT_DIR NAME=REF=BINARY=PATH ...   a single static binary, run as nobody
//	imagebuild OUT_DIR NAME=@SPEC_FILE ...        an image described by a file
//
// Each image goes to OUT_DIR/NAME.tar, and OUT_DIR/index.tsv lists them
// all with their digests (what spire registry push checks archives
// against). The spec file format is
// internal/images.ParseSpec's. See internal/images.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"homeworld.dev/homeworld/internal/images"
)

const usage = "usage: imagebuild OUT_DIR NAME=REF=BINARY=PATH|NAME=@SPEC_FILE ..."

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	out := os.Args[1]
	if err := os.MkdirAll(out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var built []images.Built
	for _, arg := range os.Args[2:] {
		name, refs, spec, err := parseArg(arg)
		if err != nil {
			fmt.Fprintf(os.Stderr, "imagebuild: %v\n%s\n", err, usage)
			os.Exit(2)
		}
		img, err := images.Build(spec)
		if err == nil {
			err = images.WriteArchive(filepath.Join(out, name+".tar"), refs, img)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "imagebuild: %s: %v\n", name, err)
			os.Exit(1)
		}
		d, _ := img.Digest()
		fmt.Printf("%s\t%s\t%s\n", name, strings.Join(refs, ","), d)
		built = append(built, images.Built{Name: name, Refs: refs, Digest: d})
	}
	if err := images.WriteIndex(out, built); err != nil {
		fmt.Fprintf(os.Stderr, "imagebuild: %v\n", err)
		os.Exit(1)
	}
}

// parseArg reads one image argument.
func parseArg(arg string) (name string, refs []string, spec images.Spec, err error) {
	name, rest, ok := strings.Cut(arg, "=")
	if !ok || name == "" || strings.ContainsAny(name, "/") {
		return "", nil, spec, fmt.Errorf("%q is neither NAME=REF=BINARY=PATH nor NAME=@SPEC_FILE", arg)
	}
	if file, ok := strings.CutPrefix(rest, "@"); ok {
		f, err := os.Open(file)
		if err != nil {
			return "", nil, spec, err
		}
		defer f.Close()
		sf, err := images.ParseSpec(f, filepath.Dir(file))
		if err != nil {
			return "", nil, spec, fmt.Errorf("%s: %w", file, err)
		}
		return name, sf.Tags, sf.Spec, nil
	}
	parts := strings.SplitN(rest, "=", 3)
	if len(parts) != 3 {
		return "", nil, spec, fmt.Errorf("%q is neither NAME=REF=BINARY=PATH nor NAME=@SPEC_FILE", arg)
	}
	spec, err = images.Binary(parts[1], parts[2])
	if err != nil {
		return "", nil, spec, fmt.Errorf("%s: %w", name, err)
	}
	return name, []string{parts[0]}, spec, nil
}
