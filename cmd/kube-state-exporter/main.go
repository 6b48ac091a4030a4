// Command kube-state-exporter serves Kubernetes object state as metrics
// for the supervisor's Prometheus. See internal/kubestate.
package main

import (
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/kubestate"
)

func main() { daemon.Main(kubestate.Command()) }
