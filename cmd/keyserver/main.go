// Command keyserver runs the Homeworld keyserver. See internal/keyserver.
package main

import (
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/keyserver"
)

func main() { daemon.Main(keyserver.Command()) }
