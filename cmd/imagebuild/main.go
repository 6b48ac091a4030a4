// Command imagebuild packs Homeworld's static binaries into container image
// archives: imagebuild OUT_DIR NAME=REF=BINARY=PATH ... See internal/images.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"homeworld.dev/homeworld/internal/images"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: imagebuild OUT_DIR NAME=REF=BINARY=PATH ...")
		os.Exit(2)
	}
	out := os.Args[1]
	if err := os.MkdirAll(out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, arg := range os.Args[2:] {
		parts := strings.SplitN(arg, "=", 4)
		if len(parts) != 4 {
			fmt.Fprintf(os.Stderr, "imagebuild: %q is not NAME=REF=BINARY=PATH\n", arg)
			os.Exit(2)
		}
		img, err := images.Build(images.Spec{Ref: parts[1], Binary: parts[2], Path: parts[3]})
		if err == nil {
			err = images.WriteArchive(filepath.Join(out, parts[0]+".tar"), parts[1], img)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "imagebuild: %s: %v\n", parts[0], err)
			os.Exit(1)
		}
		d, _ := img.Digest()
		fmt.Printf("%s\t%s\t%s\n", parts[0], parts[1], d)
	}
}
