// Command user-grant gives Kerberos users a namespace and a kubeconfig.
// See internal/usergrant.
package main

import (
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/usergrant"
)

func main() { daemon.Main(usergrant.Command()) }
