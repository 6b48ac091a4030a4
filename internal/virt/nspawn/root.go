package nspawn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"homeworld.dev/homeworld/internal/debimage"
)

// prepareRoot gives the host its root the first time it boots: the image
// unpacked beside it, with what is the host's own (name, hosts file,
// root's authorized keys, SSH host keys, machine ID), renamed into place
// only once whole. Later boots leave the root as the host left it, as a
// machine's disk: what an admin changed (authorized keys moved aside,
// lines added to /etc/hosts) stays.
func prepareRoot(ctx context.Context, h Host, image string) error {
	if _, err := os.Stat(h.Root()); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
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
	if err := ownFiles(ctx, h, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, h.Root())
}

// ownFiles writes the host's own files into the root at dir.
func ownFiles(ctx context.Context, h Host, dir string) error {
	// The image may hold symbolic links at these paths; os.Root resolves
	// them inside the root, never on the machine.
	root, err := os.OpenRoot(dir)
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
	id := make([]byte, 16)
	rand.Read(id)
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"etc/hostname", []byte(h.Name + "\n"), 0o644},
		{"etc/hosts", hosts, 0o644},
		{"etc/machine-id", []byte(hex.EncodeToString(id) + "\n"), 0o444},
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
	if out, err := debimage.Chroot(ctx, dir, "ssh-keygen", "-A"); err != nil {
		return fmt.Errorf("making SSH host keys: %v\n%s", err, out)
	}
	return nil
}
