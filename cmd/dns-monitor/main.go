// Command dns-monitor checks the cluster DNS from inside a pod. See
// internal/dnsmonitor.
package main

import (
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/dnsmonitor"
)

func main() { daemon.Main(dnsmonitor.Command()) }
