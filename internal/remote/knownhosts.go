package remote

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/google/renameio/v2"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/sys/unix"
)

// knownHosts is a known_hosts file as read at one moment. Matching host
// patterns (wildcards, negations, hashed names, ports) is left to x/crypto's
// knownhosts; this adds what it does not say: which of a host's lines are
// plain keys and which are @cert-authority lines.
type knownHosts struct {
	path  string // "" for none
	check ssh.HostKeyCallback
	lines map[int]knownLine // by line number, as knownhosts.KnownKey numbers them
	probe ssh.PublicKey     // a key no line lists; see entries
}

type knownLine struct {
	marker string // "", "cert-authority" or "revoked"
	key    ssh.PublicKey
}

// noRemote stands in for the peer's address: knownhosts checks the host
// name given, and only needs the address to be well-formed.
var noRemote = &net.TCPAddr{IP: net.IPv4zero}

// loadKnownHosts reads path; a missing file (or path "") lists nothing.
func loadKnownHosts(path string) (*knownHosts, error) {
	k := &knownHosts{path: path, lines: map[int]knownLine{}}
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	if k.probe, err = ssh.NewPublicKey(pub); err != nil {
		return nil, err
	}
	var data []byte
	if path != "" {
		data, err = os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading known hosts: %w", err)
		}
	}
	if len(data) == 0 {
		k.check, err = knownhosts.New()
		return k, err
	}
	for i, line := range strings.Split(string(data), "\n") {
		marker, _, key, _, _, err := ssh.ParseKnownHosts([]byte(line))
		if err == nil {
			k.lines[i+1] = knownLine{marker: marker, key: key}
		}
	}
	if k.check, err = knownhosts.New(path); err != nil {
		return nil, fmt.Errorf("%s is not a known_hosts file: %w", path, err)
	}
	return k, nil
}

// entries are the keys known_hosts lists for name ("host:port"): plain
// host keys and trusted authorities.
func (k *knownHosts) entries(name string) (plain, authorities []ssh.PublicKey, err error) {
	// knownhosts answers a key it does not know with every key listed for
	// the name, so asking about a key no line holds lists them all.
	var keyErr *knownhosts.KeyError
	if !errors.As(k.check(name, noRemote, k.probe), &keyErr) {
		return nil, nil, fmt.Errorf("%s: cannot list the keys known for %s", k.path, name)
	}
	for _, want := range keyErr.Want {
		line, ok := k.lines[want.Line]
		if !ok || !keyEqual(line.key, want.Key) {
			return nil, nil, fmt.Errorf("%s changed while being read; try again", k.path)
		}
		if line.marker == "cert-authority" {
			authorities = append(authorities, want.Key)
		} else {
			plain = append(plain, want.Key)
		}
	}
	return plain, authorities, nil
}

// record adds key for h to the file, unless it is there already. It
// replaces the file atomically (temp file, fsync, rename) under a lock, so
// parallel Dials to several new hosts each add their line.
func (k *knownHosts) record(h Host, key ssh.PublicKey) error {
	if k.path == "" {
		return nil // nowhere to record it: trusted for this connection only
	}
	unlock, err := lock(k.path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	now, err := loadKnownHosts(k.path)
	if err != nil {
		return err
	}
	if now.check(h.keyName(), noRemote, key) == nil {
		return nil
	}
	if plain, _, err := now.entries(h.keyName()); err != nil {
		return err
	} else if len(plain) > 0 {
		return fmt.Errorf("%s now lists another key for %s; run spire again", k.path, h.Name)
	}
	data, err := os.ReadFile(k.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		data = append(data, '\n')
	}
	data = append(data, knownhosts.Line([]string{knownhosts.Normalize(h.keyName())}, key)+"\n"...)
	return renameio.WriteFile(k.path, data, 0o644, renameio.WithExistingPermissions())
}

// lock takes an exclusive lock on path, made if missing. The lock is on a
// file of its own because the known_hosts file is replaced, not rewritten,
// so a lock on it would be on the old file.
func lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// revoked says whether an @revoked line lists k.
func (k *knownHosts) revoked(key ssh.PublicKey) bool {
	for _, line := range k.lines {
		if line.marker == "revoked" && keyEqual(line.key, key) {
			return true
		}
	}
	return false
}

func keyEqual(a, b ssh.PublicKey) bool {
	return bytes.Equal(a.Marshal(), b.Marshal())
}

func containsKey(keys []ssh.PublicKey, k ssh.PublicKey) bool {
	for _, x := range keys {
		if keyEqual(x, k) {
			return true
		}
	}
	return false
}
