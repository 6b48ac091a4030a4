// Command keyclient runs the Homeworld keyclient. See internal/keyclient.
package main

import (
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/keyclient"
)

func main() { daemon.Main(keyclient.Command()) }
