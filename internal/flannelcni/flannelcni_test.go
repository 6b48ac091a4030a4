package flannelcni_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/flannelcni"
)

// netns makes a named network namespace, removed when the test ends.
func netns(t *testing.T, name string) string {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", name).Run() })
	return "/var/run/netns/" + name
}

// in runs a command in a named namespace and returns its output.
func in(t *testing.T, ns string, argv ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s in %s: %v: %s", strings.Join(argv, " "), ns, err, out)
	}
	return string(out)
}

// TestPodOnFlannelSubnet runs the plugin as containerd would, inside a
// node's namespace, with Debian's bridge and host-local plugins, and
// checks the pod's interface, addresses and routes, then that DEL removes
// them and is safe to repeat.
func TestPodOnFlannelSubnet(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "bin", flannelcni.Type)
	if out, err := exec.Command("go", "build", "-o", plugin, "homeworld.dev/homeworld/cmd/homeworld-flannel").CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v: %s", err, out)
	}
	tag := fmt.Sprint(os.Getpid())
	node, pod := "hwcni-node-"+tag, "hwcni-pod-"+tag
	netns(t, node)
	podPath := netns(t, pod)
	subnetFile := filepath.Join(dir, "subnet.env")
	confWaiting := func(wait string) []byte {
		conf, _ := json.Marshal(map[string]string{
			"cniVersion": "1.0.0", "name": "homeworld", "type": flannelcni.Type,
			"subnetFile": subnetFile, "dataDir": filepath.Join(dir, "data"), "bridge": "cni0",
			"subnetWait": wait,
		})
		return conf
	}
	conf := confWaiting("1s")
	run := func(command string) (string, error) {
		cmd := exec.Command("ip", "netns", "exec", node, plugin)
		cmd.Env = append(os.Environ(), "CNI_COMMAND="+command, "CNI_CONTAINERID=c1", "CNI_NETNS="+podPath,
			"CNI_IFNAME=eth0", "CNI_PATH="+filepath.Dir(plugin)+":/usr/lib/cni")
		cmd.Stdin = strings.NewReader(string(conf))
		out, err := cmd.Output()
		return string(out), err
	}

	if out, err := run("ADD"); err == nil || !strings.Contains(out, "waited 1s") || !strings.Contains(out, "flanneld has not leased this node's subnet yet") {
		t.Errorf("ADD without subnet.env: %v, %s; want an error that names flannel and the wait", err, out)
	}
	// A node's first pods may come before flanneld's lease: ADD waits for
	// it instead of failing.
	conf = confWaiting("30s")
	type added struct {
		out string
		err error
	}
	done := make(chan added, 1)
	go func() {
		out, err := run("ADD")
		done <- added{out, err}
	}()
	time.Sleep(time.Second) // the plugin is waiting by now
	// as flanneld writes it: a finished file renamed into place
	os.WriteFile(subnetFile+".tmp", []byte("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"), 0o644)
	os.Rename(subnetFile+".tmp", subnetFile)
	a := <-done
	out, err := a.out, a.err
	if err != nil {
		t.Fatalf("ADD while flanneld leases: %v: %s", err, out)
	}
	var res struct {
		IPs []struct{ Address, Gateway string } `json:"ips"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.IPs) != 1 || !strings.HasPrefix(res.IPs[0].Address, "10.244.3.") || res.IPs[0].Gateway != "10.244.3.1" {
		t.Fatalf("ADD result %s (%v)", out, err)
	}
	link := in(t, pod, "ip", "-o", "link", "show", "eth0")
	if !strings.Contains(link, "mtu 1450") {
		t.Errorf("pod interface: %s; want the VXLAN MTU 1450", link)
	}
	routes := in(t, pod, "ip", "route")
	for _, want := range []string{"default via 10.244.3.1", "10.244.0.0/16 via 10.244.3.1"} {
		if !strings.Contains(routes, want) {
			t.Errorf("pod routes lack %q:\n%s", want, routes)
		}
	}
	if br := in(t, node, "ip", "-o", "addr", "show", "cni0"); !strings.Contains(br, "10.244.3.1/24") {
		t.Errorf("bridge: %s; want the gateway 10.244.3.1/24", br)
	}
	// flanneld masquerades (FLANNEL_IPMASQ=true): the bridge must not too.
	if nat := in(t, node, "iptables-save", "-t", "nat"); strings.Contains(nat, "CNI-") {
		t.Errorf("the bridge added masquerading although flanneld does it:\n%s", nat)
	}
	// CHECK gets the recorded result, as a runtime passes it.
	var withPrev map[string]any
	json.Unmarshal(conf, &withPrev)
	var prev any
	json.Unmarshal([]byte(out), &prev)
	withPrev["prevResult"] = prev
	conf, _ = json.Marshal(withPrev)
	if out, err := run("CHECK"); err != nil {
		t.Errorf("CHECK: %v: %s", err, out)
	}

	// A flannel restart may rewrite subnet.env; DEL still undoes ADD.
	os.Remove(subnetFile)
	for i := range 2 {
		if out, err := run("DEL"); err != nil {
			t.Fatalf("DEL #%d: %v: %s", i+1, err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "exec", pod, "ip", "link", "show", "eth0").CombinedOutput(); err == nil {
		t.Errorf("eth0 still in the pod after DEL: %s", out)
	}
	leases, _ := filepath.Glob(filepath.Join(dir, "data", "networks", "homeworld", "10.*"))
	if len(leases) != 0 {
		t.Errorf("addresses still leased after DEL: %v", leases)
	}
}

func TestReadSubnetNamesBadKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subnet.env")
	os.WriteFile(path, []byte("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=nonsense\nFLANNEL_MTU=9\n"), 0o644)
	_, err := flannelcni.ReadSubnet(path)
	for _, want := range []string{"FLANNEL_SUBNET", "FLANNEL_MTU"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}
