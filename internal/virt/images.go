package virt

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/services"
)

// ImportImages loads image archives into the containerd of every node that
// runs one, the way kubelet's start imports the node's own images. It is for
// images a cluster needs only at times, such as those of Kubernetes'
// conformance suite; a node started later does not get them. Every such
// node must be running.
func ImportImages(t *Topology, archives []string, w io.Writer) error {
	st, err := loadState(t)
	if err != nil {
		return err
	}
	abs := make([]string, len(archives))
	for i, a := range archives {
		// The node's mount namespace sees this machine's files, except the
		// folders a node has of its own: an absolute path outside those works.
		if abs[i], err = filepath.Abs(a); err != nil {
			return err
		}
		if _, err := os.Stat(abs[i]); err != nil {
			return err
		}
	}
	kinds := services.MustGet("containerd").Kinds
	imported := 0
	for _, n := range t.Nodes {
		if !slices.Contains(kinds, n.Kind) {
			continue
		}
		pid := st.Nodes[n.Hostname]
		if !isVirtnode(pid) {
			return fmt.Errorf("%s is not running: start it (spire virt start %s) or bring the cluster up (spire virt up)", n.Hostname, n.Hostname)
		}
		for _, a := range abs {
			out, err := exec.Command("nsenter", importArgv(pid, a)...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s: importing %s: %v: %s", n.Hostname, a, err, strings.TrimSpace(string(out)))
			}
		}
		fmt.Fprintf(w, "%s: imported %d image archives\n", n.Hostname, len(abs))
		imported++
	}
	if imported == 0 {
		return fmt.Errorf("no node of the cluster runs containerd")
	}
	return nil
}

// importArgv is nsenter's arguments to import archive into the containerd of
// the node whose node process is pid (containerd's socket is in the node's
// own /run).
func importArgv(pid int, archive string) []string {
	return []string{"--target", strconv.Itoa(pid), "--mount", "--",
		"/usr/bin/ctr", "--address", layout.ContainerdSocket, "--namespace", "k8s.io", "images", "import", archive}
}
