package virt

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// A virtual node shares the host's /root, so without care root's shell on
// a node would read the host's startup files. Every SSH command runs one
// (bash reads ~/.bashrc when sshd starts it), and the auth-monitor logs in
// to every node each cycle: on the CI machines root's .bashrc starts pyenv,
// about a CPU-second a login, which was 0.28 cores of an idle cluster. A
// node's root reads its own startup file instead, which sets nothing, as on
// a freshly installed host.

// rootHome is where sshd starts root's shell (root's home in /etc/passwd).
var rootHome = "/root"

// RootShellFiles are the files bash reads in root's home.
var RootShellFiles = []string{".bashrc", ".profile", ".bash_profile", ".bash_login", ".bash_logout"}

const nodeShellRC = "# A virtual Homeworld node's root shell startup file, shown over the host's\n" +
	"# (spire virt up): the node's shell sets nothing from the host.\n"

// ShellRC is the node's own root shell startup file.
func (n NodeTopo) ShellRC() string { return filepath.Join(n.Dir, "shellrc") }

// shellBinds writes the node's shell startup file and returns the binds
// (virtnode's --bind SRC:DST) that show it over each of root's startup
// files the host has; one the host lacks is not read on the node either.
func (n NodeTopo) shellBinds() ([]string, error) {
	if err := os.WriteFile(n.ShellRC(), []byte(nodeShellRC), 0o644); err != nil {
		return nil, err
	}
	var binds []string
	for _, name := range RootShellFiles {
		p := filepath.Join(rootHome, name)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		binds = append(binds, n.ShellRC()+":"+p)
	}
	return binds, nil
}
