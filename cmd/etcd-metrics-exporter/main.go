// Command etcd-metrics-exporter serves a master's etcd metrics without
// etcd credentials. See internal/etcdexporter.
package main

import (
	"homeworld.dev/homeworld/internal/daemon"
	"homeworld.dev/homeworld/internal/etcdexporter"
)

func main() { daemon.Main(etcdexporter.Command()) }
