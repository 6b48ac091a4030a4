// Command kube-launch starts an upstream component of a node with
// Homeworld's configuration. See internal/launch.
package main

import (
	"fmt"
	"os"

	"homeworld.dev/homeworld/internal/launch"
)

func main() {
	if err := launch.Command().Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "kube-launch: %v\n", err)
		os.Exit(1)
	}
}
