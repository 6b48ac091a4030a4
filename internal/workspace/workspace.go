// Package workspace locates the administrator's cluster workspace (the folder
// named by HOMEWORLD_DIR) and the disaster key (HOMEWORLD_DISASTER), and
// names the files inside the workspace. spire's commands import it.
package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"homeworld.dev/homeworld/internal/config"
)

// Environment variables naming the workspace and the disaster key.
const (
	EnvDir      = "HOMEWORLD_DIR"
	EnvDisaster = "HOMEWORLD_DISASTER"
)

// Workspace is an existing cluster workspace folder.
type Workspace struct {
	Dir string
}

// Resolve picks the workspace path from a flag value or the environment.
func Resolve(flag string, getenv func(string) string) (string, error) {
	if flag != "" {
		return filepath.Abs(flag)
	}
	if v := getenv(EnvDir); v != "" {
		return filepath.Abs(v)
	}
	return "", fmt.Errorf("no cluster workspace: set %s to the folder holding setup.yaml (e.g. export %s=$HOME/cluster) or pass --dir", EnvDir, EnvDir)
}

// DisasterKeyPath picks the disaster key path from a flag value or the
// environment.
func DisasterKeyPath(flag string, getenv func(string) string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if v := getenv(EnvDisaster); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("no disaster key: set %s to the file whose first line is the cluster's passphrase (create one with `spire disaster-key gen FILE`) or pass --disaster-key", EnvDisaster)
}

// Open returns the workspace at dir, which must exist.
func Open(dir string) (*Workspace, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("workspace %s does not exist (create it with `spire config populate`)", dir)
	}
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("workspace %s is not a folder", dir)
	}
	return &Workspace{Dir: dir}, nil
}

// Create returns the workspace at dir, creating it private to its owner if
// it does not exist yet.
func Create(dir string) (*Workspace, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating workspace: %w", err)
	}
	return Open(dir)
}

// SetupPath is the workspace's setup.yaml.
func (w *Workspace) SetupPath() string { return filepath.Join(w.Dir, config.FileName) }

// LoadConfig reads and validates the workspace's setup.yaml.
func (w *Workspace) LoadConfig() (*config.Config, config.Problems, error) {
	return config.Load(w.SetupPath())
}
