package keyserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/renameio/v2"
)

// serialPrefix marks a deny entry naming a certificate serial (hex) rather
// than a principal.
const serialPrefix = "serial:"

// DenyList is what administrators have cut off before it expires: whole
// principals (a stolen or decommissioned node) or single certificates (by
// serial). The keyserver consults it on every request, so a change applies
// to the next request; it is stored like the token store (temporary file,
// fsync, rename) so restarts keep it.
type DenyList struct {
	path string // empty: in memory only

	mu      sync.RWMutex
	entries map[string]denyEntry
}

type denyEntry struct {
	Entry string    `json:"entry"`
	By    string    `json:"by"`
	Since time.Time `json:"since"`
}

// OpenDenyList loads the list at path (absent: empty).
func OpenDenyList(path string) (*DenyList, error) {
	d := &DenyList{path: path, entries: map[string]denyEntry{}}
	if path == "" {
		return d, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	var list []denyEntry
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("deny list %s is corrupt: %w", path, err)
	}
	for _, e := range list {
		d.entries[e.Entry] = e
	}
	return d, nil
}

// normalizeDenyEntry checks a deny request's body: a principal, or
// serial:HEX (normalized to lower-case hex without leading zeros).
func normalizeDenyEntry(body string) (string, bool, error) {
	body = strings.TrimSpace(body)
	hex, isSerial := strings.CutPrefix(body, serialPrefix)
	if !isSerial {
		return body, false, nil
	}
	n, ok := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(hex), "0x"), 16)
	if !ok || n.Sign() <= 0 || n.BitLen() > 160 {
		return "", true, fmt.Errorf("%q is not a certificate serial in hex (as `spire authority show` and the audit log print them)", hex)
	}
	return serialPrefix + n.Text(16), true, nil
}

// Denied reports whether the principal, or the certificate with the given
// serial (nil: none), is cut off.
func (d *DenyList) Denied(principal string, serial *big.Int) (string, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if _, ok := d.entries[principal]; ok {
		return fmt.Sprintf("principal %q is denied by an administrator", principal), true
	}
	if serial != nil {
		if _, ok := d.entries[serialPrefix+serial.Text(16)]; ok {
			return fmt.Sprintf("certificate serial %x is denied by an administrator", serial), true
		}
	}
	return "", false
}

// Set adds (deny) or removes (allow) an entry durably and returns the list.
func (d *DenyList) Set(entry, by string, deny bool, now time.Time) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old, had := d.entries[entry]
	if deny {
		if !had {
			d.entries[entry] = denyEntry{Entry: entry, By: by, Since: now.UTC()}
		}
	} else {
		delete(d.entries, entry)
	}
	if err := d.save(); err != nil {
		if had {
			d.entries[entry] = old
		} else {
			delete(d.entries, entry)
		}
		return nil, err
	}
	return d.listLocked(), nil
}

func (d *DenyList) listLocked() []string {
	out := make([]string, 0, len(d.entries))
	for _, e := range d.entries {
		out = append(out, fmt.Sprintf("%s (by %s since %s)", e.Entry, e.By, e.Since.Format(time.RFC3339)))
	}
	slices.Sort(out)
	return out
}

func (d *DenyList) save() error {
	if d.path == "" {
		return nil
	}
	list := make([]denyEntry, 0, len(d.entries))
	for _, e := range d.entries {
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b denyEntry) int { return strings.Compare(a.Entry, b.Entry) })
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	if err := renameio.WriteFile(d.path, data, 0o600); err != nil {
		return fmt.Errorf("storing the deny list: %w", err)
	}
	return nil
}
