package aptbranch

import (
	"strings"
	"testing"
)

func TestStanzasRoundTrip(t *testing.T) {
	text := "Package: hello\nVersion: 1.0\nDescription: short\n long line\n .\n more\n\n# a comment\nPackage: other\nSHA256:\n abc 1 main/Packages\n"
	got, err := parseStanzas(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Get("version") != "1.0" || got[0].Get("Description") != "short\n long line\n .\n more" {
		t.Fatalf("parsed %q", got)
	}
	var parts []string
	for _, s := range got {
		parts = append(parts, s.String())
	}
	if back := strings.Join(parts, "\n"); back != strings.Replace(text, "# a comment\n", "", 1) {
		t.Errorf("written back as\n%s", back)
	}
}

func TestStanzasRefuseMalformed(t *testing.T) {
	for _, text := range []string{" continuation first\n", "no colon\n", "A: 1\nA: 2\n", "Bad Name: x\n"} {
		if _, err := parseStanzas(text); err == nil {
			t.Errorf("parsed %q", text)
		}
	}
}
