package kerberos

import (
	"os"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
)

// realmSkew is the realm's clockskew from its krb5.conf, reread when the
// file changes; DefaultMaxSkew while there is none.
type realmSkew struct {
	path string

	mu    sync.Mutex
	skew  time.Duration
	mtime time.Time
}

func (r *realmSkew) get() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := os.Stat(r.path)
	if err != nil {
		return DefaultMaxSkew
	}
	if r.skew != 0 && st.ModTime().Equal(r.mtime) {
		return r.skew
	}
	r.skew, r.mtime = DefaultMaxSkew, st.ModTime()
	if cfg, err := config.Load(r.path); err == nil && cfg.LibDefaults.Clockskew > 0 {
		r.skew = cfg.LibDefaults.Clockskew
	}
	return r.skew
}
