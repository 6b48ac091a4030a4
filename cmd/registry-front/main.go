// Command registry-front serves the cluster's image registry over HTTPS on
// the supervisor; see internal/registryfront.
package main

import (
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/registryfront"
)

func main() { daemon.Main(registryfront.Command()) }
