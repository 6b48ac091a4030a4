//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/supervise"
	"homeworld.dev/homeworld/internal/virt"
)

// helloApp is two replicas of our hello image, one per worker, behind a
// NodePort Service, and a client pod on a master: traffic between them
// crosses nodes over flannel's VXLAN.
const helloApp = `apiVersion: apps/v1
kind: Deployment
metadata: {name: hello-net, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: hello-net}}
  template:
    metadata: {labels: {app: hello-net}}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor, labelSelector: {matchLabels: {app: hello-net}}}
      containers:
      - {name: hello, image: homeworld.private/hello:1, imagePullPolicy: IfNotPresent, ports: [{containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: hello-net, namespace: default}
spec:
  type: NodePort
  selector: {app: hello-net}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: net-client, namespace: default}
spec:
  nodeName: master1
  tolerations: [{operator: Exists}]
  containers:
  - {name: hello, image: homeworld.private/hello:1, imagePullPolicy: IfNotPresent}
`

// podNetwork proves the pod network: from a pod on a master, each replica
// on each worker answers at its pod address, the ClusterIP reaches both,
// and the NodePort answers on every node's address from another node.
func (v *virtCluster) podNetwork(t *testing.T) {
	v.kubectlIn(t, helloApp, "apply", "-f", "-")
	v.kubectl(t, "rollout", "status", "deployment/hello-net", "--timeout=120s")
	v.kubectl(t, "wait", "--for=condition=Ready", "pod/net-client", "--timeout=120s")
	pods := v.kubectl(t, "get", "pods", "-l", "app=hello-net", "-o", `jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.podIP}{"\n"}{end}`)
	hosts := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(pods), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("pods:\n%s", pods)
		}
		hosts[f[1]] = true
		// Each replica answers from the master, over VXLAN.
		want := "hello from homeworld pod " + f[0]
		waitFor(t, "pod "+f[0]+" on "+f[1]+" from master1", 30*time.Second, func() error {
			out, err := v.tryKubectl("exec", "net-client", "--", "/hello", "get", "http://"+net.JoinHostPort(f[2], "8080")+"/")
			if err != nil || !strings.Contains(out, want) {
				return fmt.Errorf("%q: %v", out, err)
			}
			return nil
		})
	}
	if len(hosts) != 2 || !hosts["worker1"] || !hosts["worker2"] {
		t.Errorf("replicas run on %v, want one on each worker", hosts)
	}
	// kube-proxy balances the ClusterIP over both replicas.
	cip := v.kubectl(t, "get", "svc", "hello-net", "-o", "jsonpath={.spec.clusterIP}")
	seen := map[string]bool{}
	waitFor(t, "both replicas behind the ClusterIP", 60*time.Second, func() error {
		out, err := v.tryKubectl("exec", "net-client", "--", "/hello", "get", "http://"+cip+"/")
		if err != nil {
			return err
		}
		seen[strings.TrimSpace(out)] = true
		if len(seen) < 2 {
			return fmt.Errorf("answers so far: %v", seen)
		}
		return nil
	})
	// The NodePort answers on every Kubernetes node, asked from the
	// supervisor (no pod network there).
	port := v.kubectl(t, "get", "svc", "hello-net", "-o", "jsonpath={.spec.ports[0].nodePort}")
	sup := v.topo.Nodes[0]
	for _, n := range v.topo.Nodes {
		if n.Kind == config.KindSupervisor {
			continue
		}
		url := "http://" + net.JoinHostPort(n.IP, port) + "/"
		waitFor(t, "NodePort on "+n.Hostname, 30*time.Second, func() error {
			out, err := inNetns(sup.Netns, "curl", "-sS", "--max-time", "3", url)
			if err != nil || !strings.Contains(out, "hello from homeworld pod hello-net") {
				return fmt.Errorf("%q: %v", out, err)
			}
			return nil
		})
	}
}

// clusterDNS proves the DNS add-on: both CoreDNS replicas run, a pod on a
// master reaches the Service by its name (short and fully qualified), a
// name that does not exist is NXDOMAIN, names outside the cluster are
// forwarded (to the virtual cluster's own upstream on the bridge), and
// deploying the add-on again changes nothing.
func (v *virtCluster) clusterDNS(t *testing.T) {
	v.kubectl(t, "-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=120s")
	fqdn := "hello-net.default.svc." + v.cfg.Cluster.InternalDomain
	for _, name := range []string{fqdn, "hello-net"} {
		waitFor(t, "the Service by the name "+name, 60*time.Second, func() error {
			out, err := v.tryKubectl("exec", "net-client", "--", "/hello", "get", "http://"+name+"/")
			if err != nil || !strings.Contains(out, "hello from homeworld pod hello-net") {
				return fmt.Errorf("%q: %v", out, err)
			}
			return nil
		})
	}
	out, err := v.tryKubectl("exec", "net-client", "--", "/hello", "lookup", "no-such-service.default.svc."+v.cfg.Cluster.InternalDomain)
	if err == nil || !strings.Contains(out, "no such host") {
		t.Errorf("a Service that does not exist: %v %q, want no such host (NXDOMAIN)", err, out)
	}
	waitFor(t, "a name outside the cluster, forwarded upstream", 30*time.Second, func() error {
		out, err := v.tryKubectl("exec", "net-client", "--", "/hello", "lookup", virt.UpstreamCheckName)
		if err != nil || strings.TrimSpace(out) != virt.UpstreamCheckAddr.String() {
			return fmt.Errorf("%q: %v", out, err)
		}
		return nil
	})
	again := v.spire(t, "deploy", "dns-addon")
	if strings.Count(again, "unchanged") != 6 || strings.Contains(again, "created") || strings.Contains(again, "changed ") {
		t.Errorf("deploying the DNS add-on again changed something:\n%s", again)
	}
}

// replicaOn is the address of the hello-net replica on node, once its pod
// runs there.
func (v *virtCluster) replicaOn(node string) (name, ip string, err error) {
	out, err := v.tryKubectl("get", "pods", "-l", "app=hello-net", "--field-selector", "spec.nodeName="+node+",status.phase=Running",
		"-o", `jsonpath={range .items[*]}{.metadata.name} {.status.podIP}{"\n"}{end}`)
	if err != nil {
		return "", "", err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return "", "", fmt.Errorf("replicas on %s: %q", node, out)
	}
	return f[0], f[1], nil
}

// answers reports whether the pod at ip answers master1's client as name.
func (v *virtCluster) answers(name, ip string) error {
	out, err := v.tryKubectl("exec", "net-client", "--", "/hello", "get", "http://"+net.JoinHostPort(ip, "8080")+"/")
	if err != nil || !strings.Contains(out, "hello from homeworld pod "+name) {
		return fmt.Errorf("%s at %s: %q %v", name, ip, out, err)
	}
	return nil
}

// workerOutage switches worker2 off and on: worker1's pod keeps answering
// master1's the whole time and worker2's does not; once worker2 is back,
// its pods run again in new containers (as after a reboot) and answer (its
// flannel re-leases the same range from the node object).
func (v *virtCluster) workerOutage(t *testing.T) {
	name1, ip1, err := v.replicaOn("worker1")
	if err != nil {
		t.Fatal(err)
	}
	name2, ip2, err := v.replicaOn("worker2")
	if err != nil {
		t.Fatal(err)
	}
	cidr := v.kubectl(t, "get", "node", "worker2", "-o", "jsonpath={.spec.podCIDR}")
	v.spire(t, "virt", "stop", "worker2")
	for i := range 5 {
		if err := v.answers(name1, ip1); err != nil {
			t.Errorf("with worker2 off, check %d: %v", i+1, err)
		}
	}
	// A switched-off machine takes its containers with it.
	if err := v.answers(name2, ip2); err == nil {
		t.Errorf("with worker2 off, its pod %s at %s still answers", name2, ip2)
	}
	back := time.Now().Truncate(time.Second) // the API's times are in whole seconds
	v.spire(t, "virt", "start", "worker2", "--bin-dir", bin)
	waitFor(t, "worker2's pod answering master1's again", 120*time.Second, func() error {
		name2, ip2, err := v.replicaOn("worker2")
		if err != nil {
			return err
		}
		return v.answers(name2, ip2)
	})
	if err := v.answers(name1, ip1); err != nil {
		t.Errorf("after worker2's return: %v", err)
	}
	if again := v.kubectl(t, "get", "node", "worker2", "-o", "jsonpath={.spec.podCIDR}"); again != cidr {
		t.Errorf("worker2's pod range moved from %s to %s", cidr, again)
	}
	v.waitBack(t, "worker2", back)
}

// waitBack waits until node, back since the time given, is whole again:
// every pod it runs started since then and is ready (the monitors among
// them, so nothing of it is still on its way back when the next test
// starts), and then the cluster passes by its own monitoring's account
// (minutes on a loaded machine: the deadlines only bound a failure).
func (v *virtCluster) waitBack(t *testing.T, node string, back time.Time) {
	t.Helper()
	waitFor(t, "every pod on "+node+" restarted since its return and ready", 3*time.Minute, func() error {
		return v.podsStartedSince(node, back)
	})
	waitFor(t, "spire verify all to pass after "+node+"'s return", 3*time.Minute, func() error {
		out, _, err := v.trySpire("verify", "all")
		if err != nil {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
}

// podsStartedSince reports an error naming the first pod on node whose
// containers are not all running and ready, or started before since.
func (v *virtCluster) podsStartedSince(node string, since time.Time) error {
	out, err := v.tryKubectl("get", "pods", "-A", "--field-selector", "spec.nodeName="+node+",status.phase!=Succeeded,status.phase!=Failed", "-o",
		`jsonpath={range .items[*]}{range .status.containerStatuses[*]}{.name} {.ready} {.state.running.startedAt}{"\n"}{end}{end}`)
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return fmt.Errorf("no pods on %s", node)
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || f[1] != "true" {
			return fmt.Errorf("on %s, container %q is not running and ready", node, l)
		}
		started, err := time.Parse(time.RFC3339, f[2])
		if err != nil {
			return fmt.Errorf("on %s, container %q: %v", node, l, err)
		}
		if started.Before(since) {
			return fmt.Errorf("on %s, container %s still runs since %s, before the node's return at %s", node, f[0], f[2], since.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// flannelLeaseLost removes worker2's flannel lease (the annotations on its
// node object that tell other nodes its VXLAN address) and restarts its
// flanneld: the lease is back, and worker2's pod answers again.
func (v *virtCluster) flannelLeaseLost(t *testing.T) {
	const backend = "flannel.alpha.coreos.com/backend-data"
	v.kubectl(t, "annotate", "node", "worker2", backend+"-", "flannel.alpha.coreos.com/public-ip-")
	v.spire(t, "virt", "service", "worker2", "flannel", "stop")
	v.spire(t, "virt", "service", "worker2", "flannel", "start")
	waitFor(t, "worker2's flannel lease back", 60*time.Second, func() error {
		out, err := v.tryKubectl("get", "node", "worker2", "-o", "jsonpath={.metadata.annotations.flannel\\.alpha\\.coreos\\.com/backend-data}")
		if err != nil || !strings.Contains(out, "VtepMAC") {
			return fmt.Errorf("%q: %v", out, err)
		}
		return nil
	})
	waitFor(t, "worker2's pod answering master1's after the new lease", 60*time.Second, func() error {
		name, ip, err := v.replicaOn("worker2")
		if err != nil {
			return err
		}
		return v.answers(name, ip)
	})
}

// conformanceQuick runs a few of Kubernetes' own sig-network conformance
// tests (scripts/conformance --quick) against this cluster; the README says
// how to run the whole set.
func (v *virtCluster) conformanceQuick(t *testing.T) {
	cmd := exec.Command("../scripts/conformance", "--quick")
	cmd.Env = append(append(os.Environ(), "HOMEWORLD_DIR="+v.dir, "HOMEWORLD_DISASTER="+v.key), v.vars...) // the admin's Kerberos ticket
	out, err := cmd.CombinedOutput()
	summary := string(out)
	if i := strings.LastIndex(summary, "== the suite's summary"); i >= 0 {
		summary = summary[i:]
	}
	t.Logf("measured: scripts/conformance --quick\n%s", summary)
	if err != nil || !strings.Contains(string(out), "SUCCESS!") {
		t.Errorf("scripts/conformance --quick: %v\n%s", err, out)
	}
}

// upstreamDown stops the virtual cluster's upstream resolver: names inside
// the cluster still resolve from a pod, spire verify dns fails naming the
// forwarded name, and passes again once the resolver is back.
func (v *virtCluster) upstreamDown(t *testing.T) {
	v.spire(t, "virt", "upstream-dns", "stop")
	restarted := false
	defer func() {
		if !restarted {
			v.trySpire("virt", "upstream-dns", "start", "--bin-dir", bin)
		}
	}()
	inside := "kubernetes.default.svc." + v.cfg.Cluster.InternalDomain
	if out, err := v.tryKubectl("exec", "net-client", "--", "/hello", "lookup", inside); err != nil || strings.TrimSpace(out) != v.cfg.Addresses.ServiceAPI {
		t.Errorf("with the upstream down, %s: %q %v; want %s", inside, out, err, v.cfg.Addresses.ServiceAPI)
	}
	waitFor(t, "verify dns to fail naming the forwarded name", 90*time.Second, func() error {
		out, _, err := v.trySpire("verify", "dns")
		if err == nil {
			return fmt.Errorf("verify dns still passes")
		}
		if !strings.Contains(out, virt.UpstreamCheckName) || !strings.Contains(out, "forwarding") {
			return fmt.Errorf("verify dns fails without naming %s:\n%s", virt.UpstreamCheckName, out)
		}
		if strings.Contains(out, "kubernetes.default") {
			return fmt.Errorf("verify dns blames a name inside the cluster:\n%s", out)
		}
		return nil
	})
	v.spire(t, "virt", "upstream-dns", "start", "--bin-dir", bin)
	restarted = true
	waitFor(t, "verify dns to pass with the upstream back", 90*time.Second, func() error {
		out, _, err := v.trySpire("verify", "dns")
		if err != nil {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
}

// nodeProcessKilled kills worker1's node process with SIGKILL, which leaves
// its services and containers running with nobody to stop them (a crash,
// or a node stopped by an older spire). spire virt start boots it clean:
// nothing that ran before is left, and its pods start afresh.
func (v *virtCluster) nodeProcessKilled(t *testing.T) {
	var node virt.NodeStatus
	for _, n := range v.status(t) {
		if n.Hostname == "worker1" {
			node = n
		}
	}
	var netns string
	for _, n := range v.topo.Nodes {
		if n.Hostname == "worker1" {
			netns = n.Netns
		}
	}
	if node.PID == 0 || netns == "" {
		t.Fatalf("worker1 is not running: %+v", node)
	}
	if err := syscall.Kill(node.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// SIGKILL is delivered at once but the process ends only when every
	// thread has left the kernel (a write to a busy disk can hold one);
	// until then spire rightly finds worker1 running.
	waitFor(t, "worker1's node process to end after SIGKILL", 30*time.Second, func() error {
		if supervise.Alive(node.PID) {
			return fmt.Errorf("pid %d still runs", node.PID)
		}
		return nil
	})
	before := netnsPIDs(t, netns)
	if len(before) == 0 {
		t.Fatal("nothing is left running in worker1's namespace after its node process died; the test proves nothing")
	}
	back := time.Now().Truncate(time.Second)
	v.spire(t, "virt", "start", "worker1", "--bin-dir", bin)
	now := map[string]bool{}
	for _, p := range netnsPIDs(t, netns) {
		now[p] = true
	}
	for _, p := range before {
		if now[p] {
			comm, _ := os.ReadFile("/proc/" + p + "/comm")
			t.Errorf("process %s (%s) from before the crash still runs in worker1's namespace", p, strings.TrimSpace(string(comm)))
		}
	}
	v.waitBack(t, "worker1", back)
}

// netnsPIDs lists the processes in a network namespace, by PID.
func netnsPIDs(t *testing.T, netns string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "pids", netns).Output()
	if err != nil {
		t.Fatalf("ip netns pids %s: %v", netns, err)
	}
	return strings.Fields(string(out))
}
