// Command keygateway lets root admins obtain credentials with their Kerberos
// tickets. See internal/keygateway.
package main

import (
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/keygateway"
)

func main() { daemon.Main(keygateway.Command()) }
