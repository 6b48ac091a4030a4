package images

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o750); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IMAGES_TEST_DIR", dir)
	spec := `# a test image
tag example.test/tool:1
tag example.test/tool:latest-but-pinned
entrypoint /tool
cmd serve --port 80
env PATH=/bin
user 1000:1000
file tool /tool        # relative to the spec's folder
file $IMAGES_TEST_DIR/tool /usr/bin/tool2 0755
dir /tmp 1777
text /etc/group 0644 root:x:0:
link /bin/sh /bin/dash
localhost-tls /localhost.crt /localhost.key
`
	s, err := ParseSpec(strings.NewReader(spec), dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.Tags, " ") != "example.test/tool:1 example.test/tool:latest-but-pinned" ||
		strings.Join(s.Entrypoint, " ") != "/tool" || strings.Join(s.Cmd, " ") != "serve --port 80" ||
		strings.Join(s.Env, " ") != "PATH=/bin" || s.User != "1000:1000" {
		t.Errorf("spec %+v", s)
	}
	got := map[string]File{}
	for _, f := range s.Files {
		got[f.Path] = f
	}
	if f := got["/tool"]; f.Mode != 0o750 || string(f.Data) != "#!/bin/sh\n" {
		t.Errorf("/tool: %+v", f)
	}
	if f := got["/usr/bin/tool2"]; f.Mode != 0o755 {
		t.Errorf("/usr/bin/tool2: mode %o", f.Mode)
	}
	if f := got["/tmp"]; !f.Dir || f.Mode != 0o1777 {
		t.Errorf("/tmp: %+v", f)
	}
	if f := got["/etc/group"]; string(f.Data) != "root:x:0:\n" {
		t.Errorf("/etc/group: %q", f.Data)
	}
	if f := got["/bin/sh"]; f.Link != "/bin/dash" {
		t.Errorf("/bin/sh: %+v", f)
	}
	crt, key, _ := LocalhostTLS("example.test/tool:1")
	if string(got["/localhost.crt"].Data) != string(crt) || string(got["/localhost.key"].Data) != string(key) {
		t.Error("the localhost certificate is not the one the first tag seeds")
	}
	if _, err := Build(s.Spec); err != nil {
		t.Fatal(err)
	}
}

func TestParseSpecErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"entrypoint /x":                                   "no tag",
		"tag a.test/x:1\nfrobnicate":                      "line 2: frobnicate: unknown directive",
		"tag a.test/x:1\nuser":                            "line 2: user: takes 1 arguments, not 0",
		"tag a.test/x:1\ndir /tmp 999":                    `mode "999"`,
		"tag a.test/x:1\nfile $NOPE_IMAGES_TEST_UNSET /x": "$NOPE_IMAGES_TEST_UNSET is not set",
		"tag a.test/x:1\nfile missing /x":                 "no such file",
		"localhost-tls /c /k\ntag a.test/x:1":             "comes after the first tag",
		"tag a.test/x:1\nenv FOO":                         `"FOO" is not NAME=VALUE`,
	} {
		_, err := ParseSpec(strings.NewReader(spec), t.TempDir())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", spec, err, want)
		}
	}
}

func TestBusybox(t *testing.T) {
	const bb = "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		t.Skip("no busybox here (Debian: busybox-static)")
	}
	files, err := Busybox(bb)
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]string{}
	for _, f := range files {
		links[f.Path] = f.Link
	}
	if links["/bin/sh"] != "/bin/busybox" || links["/bin/busybox"] != "" {
		t.Errorf("applets: %v", links)
	}
}
