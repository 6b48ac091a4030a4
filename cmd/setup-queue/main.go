// Command setup-queue applies the Kubernetes manifests queued on the
// supervisor. See internal/setupqueue.
package main

import (
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/setupqueue"
)

func main() { daemon.Main(setupqueue.Command()) }
