package virt

import (
	"fmt"
	"os/exec"
	"strings"

	"homeworld.dev/homeworld/internal/debpkg"
)

// The virtual nodes run the operating system's programs (containerd, runc,
// the CNI plugins, sshd, Prometheus, the node exporter, iptables) from this
// machine. Without one, a node's service fails only minutes into up, as
// "0 of 5 nodes Ready"; checking the packages first names what to install.
func checkHostPackages() error {
	missing, err := missingPackages(debpkg.DebianNeeds())
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("the virtual nodes run programs of these Debian packages from this machine, and they are not installed: %s (apt-get install %s, or scripts/install-deps for everything)",
			strings.Join(missing, ", "), strings.Join(missing, " "))
	}
	return nil
}

// missingPackages asks dpkg which of pkgs are not installed.
func missingPackages(pkgs []string) ([]string, error) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		return nil, fmt.Errorf("dpkg-query is required: the virtual nodes run Debian's packages of %s from this machine", strings.Join(pkgs, ", "))
	}
	// One line per package dpkg knows; a package it has never seen only
	// gets a complaint on stderr (and exit status 1), so absence of a line
	// is what counts.
	out, _ := exec.Command("dpkg-query", append([]string{"-W", "-f", "${Package} ${db:Status-Status}\n"}, pkgs...)...).Output()
	installed := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if name, status, ok := strings.Cut(line, " "); ok && status == "installed" {
			installed[name] = true
		}
	}
	var missing []string
	for _, p := range pkgs {
		if !installed[p] {
			missing = append(missing, p)
		}
	}
	return missing, nil
}
