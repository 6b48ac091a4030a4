package kerberos

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
)

// keytabFile is a keytab read from disk, reread when its size or time
// changes.
type keytabFile struct {
	path string

	mu    sync.Mutex
	kt    *keytab.Keytab
	size  int64
	mtime time.Time
}

func (k *keytabFile) get() (*keytab.Keytab, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	st, err := os.Stat(k.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no keytab at %s on this server: install it with `spire setup keygateway`", k.path)
	}
	if err != nil {
		return nil, fmt.Errorf("keytab: %w", err)
	}
	if k.kt != nil && st.Size() == k.size && st.ModTime().Equal(k.mtime) {
		return k.kt, nil
	}
	data, err := os.ReadFile(k.path)
	if err != nil {
		return nil, fmt.Errorf("keytab: %w", err)
	}
	kt := keytab.New()
	if err := kt.Unmarshal(data); err != nil {
		return nil, fmt.Errorf("keytab %s is not a keytab file (%v): import a keytab with `spire keytab import`", k.path, err)
	}
	k.kt, k.size, k.mtime = kt, st.Size(), st.ModTime()
	return kt, nil
}
