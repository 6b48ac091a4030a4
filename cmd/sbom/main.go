// Command sbom writes a CycloneDX SBOM for each Go binary given, from the
// build information embedded in it: sbom [--out DIR] BINARY...
// Without --out it prints one SBOM (a single binary) to standard output;
// with it, DIR/NAME.cdx.json per binary. See internal/sbom.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"homeworld.dev/homeworld/internal/sbom"
)

func main() {
	out := flag.String("out", "", "folder for NAME.cdx.json files (default: standard output, one binary only)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: sbom [--out DIR] BINARY...\nWrites a CycloneDX 1.6 JSON SBOM per Go binary from its embedded build information.")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 || (*out == "" && flag.NArg() > 1) {
		flag.Usage()
		os.Exit(2)
	}
	for _, bin := range flag.Args() {
		doc, err := sbom.ForBinary(bin)
		if err == nil && *out == "" {
			_, err = os.Stdout.Write(doc)
		} else if err == nil {
			err = os.WriteFile(filepath.Join(*out, filepath.Base(bin)+".cdx.json"), doc, 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "sbom: %v\n", err)
			os.Exit(1)
		}
	}
}
