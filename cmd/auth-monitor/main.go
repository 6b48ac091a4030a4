// Command auth-monitor checks the keysystem end to end from the supervisor
// and serves the results as Prometheus metrics. See internal/authmonitor.
package main

import (
	"homeworld.dev/homeworld/internal/authmonitor"
	"homeworld.dev/homeworld/internal/daemon"
)

func main() { daemon.Main(authmonitor.Command()) }
