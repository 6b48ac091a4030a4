package virt

import (
	"strings"
	"testing"
)

func TestPrintMemoryMarksPodsAndOtherProcesses(t *testing.T) {
	nodes := []NodeStatus{{Hostname: "worker1", Usage: Memory{PSS: 60 << 20, RSS: 90 << 20}, Memory: []ProgramMemory{
		{Name: "kubelet", Memory: Memory{PSS: 30 << 20}},
		{Name: "coredns", Pod: true, Memory: Memory{PSS: 20 << 20}},
		{Name: "containerd-shim", Other: true, Memory: Memory{PSS: 10 << 20}},
	}}}
	var b strings.Builder
	printMemory(&b, nodes)
	if want := "worker1     kubelet 30, coredns* 20, containerd-shim+ 10\n"; !strings.Contains(b.String(), want) {
		t.Errorf("printMemory wrote\n%s\nwant a line %q", b.String(), want)
	}
	if !strings.Contains(b.String(), "cluster: 60 MiB") {
		t.Errorf("printMemory wrote\n%s\nwant the cluster's 60 MiB", b.String())
	}
}
