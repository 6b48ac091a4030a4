package virt

import (
	"fmt"
	"strings"
)

// Setup returns a ready-made setup.yaml for a virtual cluster with the given
// number of masters and workers. Its addresses are a private range used only
// between the cluster's namespaces on this machine.
func Setup(masters, workers int) string {
	var b strings.Builder
	b.WriteString(`# A virtual Homeworld cluster (spire virt init). Every node is a set of Linux
# namespaces on this machine; addresses below exist only on the bridge that
# 'spire virt up' creates.
cluster:
  external-domain: virt.homeworld.test
  internal-domain: cluster.local
  etcd-token: virt-etcd
addresses:
  cidr-nodes: 10.213.0.0/24
  cidr-pods: 10.214.0.0/16
  cidr-services: 10.215.0.0/16
  service-api: 10.215.0.1
  service-dns: 10.215.0.10
root-admins:
  - admin
nodes:
  - {hostname: supervisor, ip: 10.213.0.10, kind: supervisor}
`)
	for i := 1; i <= masters; i++ {
		fmt.Fprintf(&b, "  - {hostname: master%d, ip: 10.213.0.%d, kind: master}\n", i, 20+i)
	}
	for i := 1; i <= workers; i++ {
		fmt.Fprintf(&b, "  - {hostname: worker%d, ip: 10.213.0.%d, kind: worker}\n", i, 30+i)
	}
	return b.String()
}
