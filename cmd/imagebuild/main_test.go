package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseArg(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "pause")
	if err := os.WriteFile(bin, []byte("p"), 0o755); err != nil {
		t.Fatal(err)
	}
	name, refs, spec, err := parseArg("pause=homeworld.private/pause:1=" + bin + "=/pause")
	if err != nil || name != "pause" || strings.Join(refs, ",") != "homeworld.private/pause:1" ||
		spec.User != "65534:65534" || spec.Entrypoint[0] != "/pause" || spec.Files[0].Path != "/pause" {
		t.Errorf("single binary: %q %q %+v %v", name, refs, spec, err)
	}

	specFile := filepath.Join(dir, "img.spec")
	if err := os.WriteFile(specFile, []byte("tag a.test/p:1\ntag b.test/p:2\nfile pause /pause\nentrypoint /pause\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name, refs, spec, err = parseArg("p=@" + specFile)
	if err != nil || name != "p" || strings.Join(refs, ",") != "a.test/p:1,b.test/p:2" || spec.User != "" {
		t.Errorf("spec file: %q %q %+v %v", name, refs, spec, err)
	}

	for _, bad := range []string{"pause", "=x", "a/b=@" + specFile, "pause=homeworld.private/pause:1=" + bin, "p=@" + dir + "/missing"} {
		if _, _, _, err := parseArg(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
