package keyserver

import (
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/layout"
)

// Install writes below n's root what Load reads: setup.yaml and the
// authorities, unsealed (private keys 0600 in a 0700 folder). It replaces
// what an earlier Install wrote. Kept beside Load so where the files go is
// said once, for spire setup keyserver and the virtual cluster alike.
func Install(n layout.Node, setupYAML []byte, auths *authority.Set) error {
	if err := auths.WriteUnsealed(n.KeyserverAuthorities()); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(n.SetupYAML()), 0o755); err != nil {
		return err
	}
	return renameio.WriteFile(n.SetupYAML(), setupYAML, 0o644)
}

// MarkVirtual tells the keyserver installed below n that its cluster is
// virtual; it says so to every node in cluster.conf (VIRTUAL=true), so
// their services take service states from virtnode rather than systemd.
func MarkVirtual(n layout.Node) error {
	return renameio.WriteFile(n.KeyserverVirtual(), []byte("installed by spire virt up\n"), 0o644)
}
