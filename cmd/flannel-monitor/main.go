// Command flannel-monitor is the pod network's monitor: monitor and
// collector in one binary. See internal/flannelmonitor.
package main

import (
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/flannelmonitor"
)

func main() { daemon.Main(flannelmonitor.Command()) }
