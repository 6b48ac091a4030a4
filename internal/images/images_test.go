package images

import (
	"archive/tar"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// layerEntries reads the headers of an image's only layer.
func layerEntries(t *testing.T, img v1.Image) []*tar.Header {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %v, %d", err, len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var hs []*tar.Header
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hs
		}
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
}

func digest(t *testing.T, s Spec) v1.Hash {
	t.Helper()
	img, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBuildIsReproducibleAndSorted(t *testing.T) {
	files := []File{
		{Path: "/usr/bin/tool", Mode: 0o755, Data: []byte("tool")},
		{Path: "/bin/sh", Link: "/bin/busybox"},
		{Path: "/bin/busybox", Mode: 0o755, Data: []byte("bb")},
		{Path: "/tmp", Dir: true, Mode: 0o1777},
		{Path: "/etc/passwd", Data: []byte("root:x:0:0::/:/bin/sh\n")},
	}
	a := Spec{Files: files, Entrypoint: []string{"/usr/bin/tool"}, Cmd: []string{"run"}}
	reversed := make([]File, len(files))
	for i, f := range files {
		reversed[len(files)-1-i] = f
	}
	b := a
	b.Files = reversed
	if da, db := digest(t, a), digest(t, b); da != db {
		t.Fatalf("the order of files changed the digest: %s, %s", da, db)
	}

	img, err := Build(a)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range layerEntries(t, img) {
		names = append(names, h.Name)
		if !h.ModTime.Equal(epoch) || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: time %v, owner %d:%d; want the epoch and root", h.Name, h.ModTime, h.Uid, h.Gid)
		}
		if h.Name == "tmp/" && h.Mode != 0o1777 {
			t.Errorf("tmp/ has mode %o", h.Mode)
		}
		if h.Name == "etc/passwd" && h.Mode != 0o644 {
			t.Errorf("a file without a mode got %o, want 644", h.Mode)
		}
	}
	want := "bin/ bin/busybox bin/sh etc/ etc/passwd tmp/ usr/ usr/bin/ usr/bin/tool"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("entries\n got %s\nwant %s", got, want)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.Cmd[0] != "run" || cfg.Config.User != "" || !cfg.Created.Equal(epoch) {
		t.Errorf("config %+v", cfg.Config)
	}
}

func TestLaterEntryWins(t *testing.T) {
	s := Spec{Files: []File{{Path: "/bin/sh", Link: "/bin/busybox"}, {Path: "/bin/sh", Link: "/bin/dash"}}}
	img, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range layerEntries(t, img) {
		if h.Name == "bin/sh" && h.Linkname != "/bin/dash" {
			t.Errorf("/bin/sh links to %s", h.Linkname)
		}
	}
}

func TestBuildRefusesBadEntries(t *testing.T) {
	for _, files := range [][]File{
		{{Path: "bin/sh", Data: []byte("x")}},
		{{Path: "/bin/../sh", Data: []byte("x")}},
		{{Path: "/"}},
		{{Path: "/a", Data: []byte("x")}, {Path: "/a/b", Data: []byte("y")}},
		{{Path: "/a", Link: "/b", Data: []byte("x")}},
		{{Path: "/a", Mode: 0o100644, Data: []byte("x")}},
		nil,
	} {
		if _, err := Build(Spec{Files: files}); err == nil {
			t.Errorf("%+v was accepted", files)
		}
	}
}

// A single-binary image keeps the digest it had before images could hold
// several files, so Homeworld's own images did not change.
func TestBinaryDigestIsStable(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "hello")
	if err := os.WriteFile(bin, []byte("#!not really a program\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Binary(bin, "/hello")
	if err != nil {
		t.Fatal(err)
	}
	// made by imagebuild before this change, from the same file
	const want = "sha256:5ac0fb5585c9abd7c9894a9d1cb529aefa1a8db91d951b478ed3bfa2b7305e1b"
	if got := digest(t, s); got.String() != want {
		t.Errorf("digest %s, want %s", got, want)
	}
}

func TestWriteArchiveTagsEveryName(t *testing.T) {
	img, err := Build(Spec{Files: []File{{Path: "/pause", Mode: 0o755, Data: []byte("p")}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pause.tar")
	refs := []string{"homeworld.private/pause:1", "registry.k8s.io/pause:3.10.2"}
	if err := WriteArchive(path, refs, img); err != nil {
		t.Fatal(err)
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || strings.Join(m[0].RepoTags, " ") != strings.Join(refs, " ") {
		t.Errorf("manifest %+v", m)
	}
	// An image of several names is written the same every time.
	first, _ := os.ReadFile(path)
	for range 5 {
		if err := WriteArchive(path, refs, img); err != nil {
			t.Fatal(err)
		}
		if again, _ := os.ReadFile(path); !bytes.Equal(first, again) {
			t.Fatal("writing the same image with the same names gave another archive")
		}
	}
	for _, bad := range [][]string{nil, {"pause"}, {"registry.k8s.io/pause"}} {
		if err := WriteArchive(path, bad, img); err == nil {
			t.Errorf("names %q were accepted", bad)
		}
	}
}

func TestLocalhostTLS(t *testing.T) {
	crt, key, err := LocalhostTLS("registry.k8s.io/e2e-test-images/agnhost:2.66.1")
	if err != nil {
		t.Fatal(err)
	}
	crt2, key2, _ := LocalhostTLS("registry.k8s.io/e2e-test-images/agnhost:2.66.1")
	if string(crt) != string(crt2) || string(key) != string(key2) {
		t.Fatal("the same seed gave another certificate or key")
	}
	if _, other, _ := LocalhostTLS("another"); string(other) == string(key) {
		t.Fatal("another seed gave the same key")
	}
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		t.Fatalf("not a key pair: %v", err)
	}
	b, _ := pem.Decode(crt)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	if _, err := c.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: pool, CurrentTime: epoch.AddDate(100, 0, 0)}); err != nil {
		t.Errorf("does not verify for localhost: %v", err)
	}
}

func TestLibraries(t *testing.T) {
	const prog = "/usr/bin/dash"
	data, err := os.ReadFile(prog)
	if err != nil {
		t.Skipf("no %s to inspect: %v", prog, err)
	}
	if !isDynamicELF(data) {
		t.Fatalf("%s is not seen as dynamically linked", prog)
	}
	libs, err := Libraries(data)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, l := range libs {
		paths = append(paths, l.Path)
	}
	got := strings.Join(paths, " ")
	if !strings.Contains(got, "/ld-linux-x86-64.so.2") || !strings.Contains(got, "/libc.so.6") {
		t.Errorf("%s needs %s; want the loader and libc", prog, got)
	}
	if isDynamicELF([]byte("#!/bin/sh\n")) {
		t.Error("a script counts as a dynamic program")
	}
	if _, err := Libraries([]byte("#!/bin/sh\n")); err == nil {
		t.Error("a script's libraries were found")
	}
}
