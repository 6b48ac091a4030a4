// Command virtnode is the service manager of one virtual node. See
// internal/virtnode.
package main

import (
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/virtnode"
)

func main() { daemon.Main(virtnode.Command()) }
