package keytab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"homeworld.dev/homeworld/internal/atomicfile"
	"homeworld.dev/homeworld/internal/disaster"
)

const (
	filePrefix = "keytab."
	fileSuffix = ".crypt"
)

// ErrExists is returned when a node already has a sealed keytab and the
// caller did not ask to replace it.
var ErrExists = errors.New("a keytab is already stored for this node")

// ErrNone is returned when a node has no sealed keytab.
var ErrNone = errors.New("no keytab is stored for this node")

// nodeName is a node's short hostname, as setup.yaml allows it; it is part
// of a file name, so nothing else may pass.
var nodeName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// SealedPath is where node's sealed keytab lives in the workspace wsDir.
// node is the short hostname from setup.yaml.
func SealedPath(wsDir, node string) string {
	return filepath.Join(wsDir, filePrefix+node+fileSuffix)
}

func checkNode(node string) error {
	if !nodeName.MatchString(node) {
		return fmt.Errorf("%q is not a node's short hostname", node)
	}
	return nil
}

// Store checks that data is a keytab, seals it with key and writes it,
// readable only by its owner, as node's keytab. An existing one is
// replaced only if replace is set. It returns the keytab's entries.
func Store(wsDir, node string, data []byte, key *disaster.Key, replace bool) ([]Entry, error) {
	if err := checkNode(node); err != nil {
		return nil, err
	}
	entries, err := Parse(data)
	if err != nil {
		return nil, err
	}
	path := SealedPath(wsDir, node)
	if !replace {
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("%s: %w", path, ErrExists)
		}
	}
	if err := checkKey(wsDir, node, key); err != nil {
		return nil, err
	}
	if err := seal(path, data, key, replace); err != nil {
		return nil, err
	}
	return entries, nil
}

// checkKey refuses a disaster key that does not open the keytabs already
// stored (node's own, if any): all are sealed with the cluster's one key.
func checkKey(wsDir, node string, key *disaster.Key) error {
	nodes, err := Nodes(wsDir)
	if err != nil || len(nodes) == 0 {
		return err
	}
	check := nodes[0]
	if slices.Contains(nodes, node) {
		check = node
	}
	if _, err := Unseal(wsDir, check, key); err != nil {
		return fmt.Errorf("refusing to seal with this disaster key: %w", err)
	}
	return nil
}

// seal writes data sealed with key to path.
func seal(path string, data []byte, key *disaster.Key, replace bool) error {
	sealed, err := key.Seal(data)
	if err != nil {
		return fmt.Errorf("sealing %s: %w", path, err)
	}
	if err := write(path, sealed, replace); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		return err
	}
	return nil
}

// write writes data to path with mode 0600 (whatever the umask):
// exclusively, failing with an error satisfying errors.Is(err,
// os.ErrExist) if path exists, or replacing it atomically.
func write(path string, data []byte, replace bool) error {
	if !replace {
		return atomicfile.WriteNew(path, data, 0o600)
	}
	return atomicfile.Replace(path, data, 0o600)
}

// Unseal returns node's keytab in clear. The caller keeps it in memory or
// in a file only its owner reads, and removes it when done.
func Unseal(wsDir, node string, key *disaster.Key) ([]byte, error) {
	if err := checkNode(node); err != nil {
		return nil, err
	}
	path := SealedPath(wsDir, node)
	sealed, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (add one with `spire keytab import %s FILE`)", path, ErrNone, node)
	}
	if err != nil {
		return nil, err
	}
	data, err := key.Open(sealed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// List returns the entries of node's keytab.
func List(wsDir, node string, key *disaster.Key) ([]Entry, error) {
	data, err := Unseal(wsDir, node, key)
	if err != nil {
		return nil, err
	}
	entries, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SealedPath(wsDir, node), err)
	}
	return entries, nil
}

// Nodes lists the nodes with a sealed keytab in wsDir, sorted.
func Nodes(wsDir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(wsDir, filePrefix+"*"+fileSuffix))
	if err != nil {
		return nil, err
	}
	var nodes []string
	for _, p := range paths {
		node := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), filePrefix), fileSuffix)
		if checkNode(node) == nil {
			nodes = append(nodes, node)
		}
	}
	slices.Sort(nodes)
	return nodes, nil
}

// Export writes node's keytab in clear to path with mode 0600. An existing
// file is replaced only if replace is set; otherwise the error satisfies
// errors.Is(err, os.ErrExist).
func Export(wsDir, node string, key *disaster.Key, path string, replace bool) error {
	if !replace {
		// Checked first too, to fail before the slow unsealing.
		if _, err := os.Lstat(path); err == nil {
			return &os.PathError{Op: "export", Path: path, Err: os.ErrExist}
		}
	}
	data, err := Unseal(wsDir, node, key)
	if err != nil {
		return err
	}
	return write(path, data, replace)
}
