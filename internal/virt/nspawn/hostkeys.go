package nspawn

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/crypto/ssh"
)

// hostKeys reads the host's SSH host keys from its root.
func hostKeys(h Host) ([]HostKey, error) {
	files, err := filepath.Glob(filepath.Join(h.Root(), "etc/ssh/ssh_host_*_key.pub"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var keys []HostKey
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		keys = append(keys, HostKey{
			Type:        pub.Type(),
			Fingerprint: ssh.FingerprintSHA256(pub),
			Public:      string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(pub))),
		})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s has no SSH host keys", h.Root())
	}
	return keys, nil
}
