package virt

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/config"
)

func TestImportImagesNeedsRunningNodes(t *testing.T) {
	cfg, _, _ := config.Parse("setup.yaml", []byte(Setup(1, 1)))
	dir := t.TempDir()
	top, err := NewTopology(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ImportImages(top, []string{filepath.Join(dir, "missing.tar")}, io.Discard); err == nil || !os.IsNotExist(err) {
		t.Errorf("a missing archive: %v", err)
	}
	archive := filepath.Join(dir, "a.tar")
	if err := os.WriteFile(archive, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// No node has ever started: the first node running containerd is named.
	err = ImportImages(top, []string{archive}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "master1 is not running") {
		t.Errorf("no running node: %v", err)
	}
}

func TestImportArgv(t *testing.T) {
	got := strings.Join(importArgv(42, "/x/agnhost.tar"), " ")
	want := "--target 42 --mount -- /usr/bin/ctr --address /run/containerd/containerd.sock --namespace k8s.io images import /x/agnhost.tar"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
