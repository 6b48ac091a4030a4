// Command homeworld-flannel is the CNI plugin that puts pods on flannel's
// network. See internal/flannelcni.
package main

import "homeworld.dev/homeworld/internal/flannelcni"

func main() { flannelcni.Main() }
