// Command pull-monitor checks that its node's container runtime pulls and
// runs images, for Prometheus. See internal/pullmonitor.
package main

import (
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/pullmonitor"
)

func main() { daemon.Main(pullmonitor.Command()) }
