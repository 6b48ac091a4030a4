package nspawn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"homeworld.dev/homeworld/internal/debimage"
)

// prepareRoot unpacks the image into the host's root if it has none yet,
// then writes what is the host's own: its name, hosts file, root's
// authorized keys and, the first time, its SSH host keys and machine ID.
func prepareRoot(ctx context.Context, h Host, image string) error {
	if _, err := os.Stat(h.Root()); errors.Is(err, os.ErrNotExist) {
		if err := unpackRoot(ctx, h, image); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	// What runs in the host may have made any of these paths a symbolic
	// link; os.Root resolves them inside the host's root, never on the
	// machine.
	root, err := os.OpenRoot(h.Root())
	if err != nil {
		return err
	}
	defer root.Close()
	hosts := h.Hosts
	if len(hosts) == 0 {
		hosts = fmt.Appendf(nil, "127.0.0.1 localhost\n127.0.1.1 %s %s\n", h.FQDN, h.Name)
	}
	if err := root.MkdirAll("root/.ssh", 0o700); err != nil {
		return err
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"etc/hostname", []byte(h.Name + "\n"), 0o644},
		{"etc/hosts", hosts, 0o644},
		{"root/.ssh/authorized_keys", h.AuthorizedKeys, 0o600},
	}
	for _, f := range files {
		if err := root.WriteFile(f.path, f.data, f.mode); err != nil {
			return err
		}
		if err := root.Chmod(f.path, f.mode); err != nil {
			return err
		}
	}
	// ssh-keygen -A makes only the host keys that are missing: the first
	// boot makes them all, and they stay the host's.
	if out, err := debimage.Chroot(ctx, h.Root(), "ssh-keygen", "-A"); err != nil {
		return fmt.Errorf("making SSH host keys: %v\n%s", err, out)
	}
	return nil
}

// unpackRoot unpacks the image beside the root and renames it into place,
// so that a root exists only once whole. The host gets its own machine
// ID, which the image leaves empty.
func unpackRoot(ctx context.Context, h Host, image string) error {
	tmp := h.Root() + ".unpacking"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return err
	}
	if err := debimage.Unpack(ctx, image, tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	id := make([]byte, 16)
	rand.Read(id)
	if err := os.WriteFile(filepath.Join(tmp, "etc/machine-id"), []byte(hex.EncodeToString(id)+"\n"), 0o444); err != nil {
		return err
	}
	return os.Rename(tmp, h.Root())
}
