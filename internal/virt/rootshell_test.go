package virt

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestShellBindsCoverTheHostsStartupFiles(t *testing.T) {
	home := t.TempDir()
	old := rootHome
	rootHome = home
	t.Cleanup(func() { rootHome = old })
	for _, f := range []string{".bashrc", ".profile"} {
		if err := os.WriteFile(filepath.Join(home, f), []byte("eval \"$(pyenv init -)\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n := NodeTopo{Dir: t.TempDir()}
	binds, err := n.shellBinds()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{n.ShellRC() + ":" + filepath.Join(home, ".bashrc"), n.ShellRC() + ":" + filepath.Join(home, ".profile")}
	if !slices.Equal(binds, want) {
		t.Errorf("binds %q, want %q (only the files the host has)", binds, want)
	}
	if got, err := os.ReadFile(n.ShellRC()); err != nil || string(got) != nodeShellRC {
		t.Errorf("node's startup file: %q, %v", got, err)
	}
	// A second start (spire virt start) finds the file in place.
	if again, err := n.shellBinds(); err != nil || !slices.Equal(again, want) {
		t.Errorf("again: %q, %v", again, err)
	}
}
