//go:build e2e

package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/virt"
)

// virtCluster is a workspace made by spire virt init.
type virtCluster struct {
	*env
	cfg  *config.Config
	topo *virt.Topology
}

func newVirtCluster(t *testing.T, masters, workers int) *virtCluster {
	e := newEnv(t)
	e.spire(t, "virt", "init", "--masters", fmt.Sprint(masters), "--workers", fmt.Sprint(workers))
	cfg, _, err := config.Load(filepath.Join(e.dir, "setup.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	topo, err := virt.NewTopology(e.dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	v := &virtCluster{env: e, cfg: cfg, topo: topo}
	t.Cleanup(func() {
		if _, errOut, err := e.trySpire("virt", "down"); err != nil {
			t.Errorf("cleanup: spire virt down: %v\n%s", err, errOut)
		}
	})
	return v
}

func (v *virtCluster) up(t *testing.T, args ...string) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	out := v.spire(t, append([]string{"virt", "up", "--bin-dir", bin}, args...)...)
	return out, time.Since(start)
}

func (v *virtCluster) status(t *testing.T) []virt.NodeStatus {
	t.Helper()
	var nodes []virt.NodeStatus
	if err := json.Unmarshal([]byte(v.spire(t, "virt", "status", "--json")), &nodes); err != nil {
		t.Fatal(err)
	}
	return nodes
}

// inNode runs a shell command inside a node's namespaces.
func (v *virtCluster) inNode(pid int, script string) (string, error) {
	out, err := exec.Command("nsenter", "-t", fmt.Sprint(pid), "-u", "-n", "-m", "/bin/sh", "-c", script).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// inNetns runs a command inside a node's network namespace only.
func inNetns(netns string, argv ...string) (string, error) {
	out, err := exec.Command("nsenter", append([]string{"--net=/run/netns/" + netns}, argv...)...).CombinedOutput()
	return string(out), err
}

// assertMemoryAddsUp checks that status accounts for all of a node's
// memory by program: its services, its pods' programs and, by command, its
// other processes, among them the containerd shims of a master's or
// worker's pods.
func assertMemoryAddsUp(t *testing.T, n virt.NodeStatus) {
	t.Helper()
	var sum int64
	var others []string
	for _, p := range n.Memory {
		sum += p.PSS
		if p.Other {
			others = append(others, p.Name)
		}
	}
	if sum != n.Usage.PSS {
		t.Errorf("%s: its programs add up to %d bytes PSS, its total is %d", n.Hostname, sum, n.Usage.PSS)
	}
	if n.Kind != "supervisor" && !slices.Contains(others, "containerd-shim") {
		t.Errorf("%s: status lists no containerd-shim among the node's other processes: %q", n.Hostname, others)
	}
}

// reachable tries a TCP connection from inside a node's network namespace.
func reachable(netns, addr string) bool {
	host, port, _ := strings.Cut(addr, ":")
	return exec.Command("nsenter", "--net=/run/netns/"+netns, "timeout", "3", "bash", "-c", "echo > /dev/tcp/"+host+"/"+port).Run() == nil
}

func TestVirtualCluster(t *testing.T) {
	v := newVirtCluster(t, 3, 2)
	v.enableKerberos(t)
	out, upTime := v.up(t)
	steps := clusterSteps(v.cfg)
	if !strings.Contains(out, fmt.Sprintf("[%d/%d]", steps, steps)) || !strings.Contains(out, "5/5 Kubernetes nodes Ready") || !strings.Contains(out, "every service of every node active") {
		t.Fatalf("up output:\n%s", out)
	}
	t.Logf("measured: virt up to all nodes Ready took %v\n%s", upTime, out)
	nodes := v.status(t)
	pids := map[string]int{}
	for _, n := range nodes {
		t.Logf("measured: %s (%s) uses %.1f MiB PSS, %.1f MiB RSS", n.Hostname, n.Kind, float64(n.Usage.PSS)/(1<<20), float64(n.Usage.RSS)/(1<<20))
		if !n.Running || len(n.Services) == 0 {
			t.Errorf("%s: %+v", n.Hostname, n)
		}
		assertMemoryAddsUp(t, n)
		for _, s := range n.Services {
			if s.State != "active" {
				t.Errorf("%s: %s is %s", n.Hostname, s.Name, s.State)
			}
			// Each service waits for what it needs instead of failing
			// and being restarted until it is there.
			if s.Restarts > 0 {
				t.Errorf("%s: %s restarted %d times during bring-up; the end of its log:\n%s", n.Hostname, s.Name, s.Restarts,
					tailFile(filepath.Join(v.topo.Dir, "nodes", n.Hostname, "logs", s.Name+".log"), 8))
			}
		}
		pids[n.Hostname] = n.PID
	}

	// From here on spire acts with the admin's Kerberos ticket.
	kerberosStart := time.Now()
	kdc := v.startKerberos(t)
	t.Logf("measured: keytab import, setup keygateway, and auth-monitor's first good gateway check took %v", time.Since(kerberosStart).Round(time.Second))

	t.Run("Kerberos: admin access through the key gateway; refused without a ticket; break-glass audited", v.kerberosAccess)
	t.Run("user-grant: users get their own namespace by Kerberos, and nothing else", func(t *testing.T) { v.userGrant(t, kdc) })

	t.Run("each node has its own name, address and credentials", func(t *testing.T) {
		audit, _ := os.ReadFile(filepath.Join(v.topo.Dir, "nodes", "supervisor", "root", "var/log/homeworld/keyserver-audit.log"))
		for _, n := range v.topo.Nodes {
			got, err := v.inNode(pids[n.Hostname], "hostname; ip -4 -o addr show eth0 | awk '{print $4}'")
			if err != nil || got != n.Hostname+"\n"+n.IP+"/24" {
				t.Errorf("%s sees hostname/address %q (%v)", n.Hostname, got, err)
			}
			if files := credentialFiles(n.Folder("/")); strings.Join(files, "\n") != strings.Join(kindFiles(n.Kind), "\n") {
				t.Errorf("%s holds:\n%s\nwant:\n%s", n.Hostname, strings.Join(files, "\n"), strings.Join(kindFiles(n.Kind), "\n"))
			}
			// Root's shell on the node reads the node's startup file, not
			// the host's (on CI machines a .bashrc that starts pyenv).
			shell, err := v.inNode(pids[n.Hostname], "for f in "+strings.Join(virt.RootShellFiles, " ")+
				"; do [ ! -e /root/$f ] || cmp /root/$f "+n.ShellRC()+" || echo host: $f; done")
			if err != nil || shell != "" {
				t.Errorf("%s's root shell reads the host's startup files: %s (%v)", n.Hostname, shell, err)
			}
			redeem := fmt.Sprintf(`"action":"token-redeem","principal":"%s","remote":"%s","result":"ok"`, v.cfg.FQDN(n.Node), n.IP)
			if !strings.Contains(string(audit), redeem) {
				t.Errorf("no token redemption by %s from %s in the audit log", n.Hostname, n.IP)
			}
		}
		if entries, _ := os.ReadDir("/etc/homeworld"); len(entries) != 0 {
			t.Errorf("the host's /etc/homeworld holds %d entries", len(entries))
		}
	})

	t.Run("keyserver only at its setup.yaml address", func(t *testing.T) {
		sup := v.cfg.Supervisor()
		worker := v.topo.Nodes[len(v.topo.Nodes)-1]
		if !reachable(worker.Netns, services.KeyserverAPI.Addr(sup.IP)) {
			t.Error("a worker cannot reach the keyserver at the supervisor's address")
		}
		if reachable(worker.Netns, services.KeyserverAPI.Addr(v.topo.Gateway.Addr().String())) {
			t.Error("the keyserver answers at the host's bridge address")
		}
		if reachable(v.topo.Nodes[0].Netns, net.JoinHostPort("127.0.0.1", services.KeyserverAPI.PortString())) {
			t.Error("the keyserver listens on the supervisor's loopback too")
		}
	})

	v.spire(t, "access", "etcd")
	v.spire(t, "access", "kubeconfig")

	t.Run("etcd has 3 healthy members over TLS", func(t *testing.T) {
		if healthy := v.etcdHealthy(t, v.masterEndpoints()); healthy != 3 {
			t.Errorf("%d healthy etcd members, want 3", healthy)
		}
	})

	t.Run("kube-apiserver ready on every master", func(t *testing.T) {
		for _, m := range v.cfg.NodesOf(config.KindMaster) {
			if body, err := getInsecure(services.APIServer.URL(m.IP, "/readyz")); err != nil || body != "ok" {
				t.Errorf("%s /readyz: %q %v", m.Hostname, body, err)
			}
		}
	})

	t.Run("kubectl lists 5 Ready nodes; masters unschedulable", func(t *testing.T) {
		out := v.kubectl(t, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.spec.taints[*].key}{"\n"}{end}`)
		want := "master1 True node-role.kubernetes.io/control-plane\nmaster2 True node-role.kubernetes.io/control-plane\nmaster3 True node-role.kubernetes.io/control-plane\nworker1 True \nworker2 True"
		if strings.TrimSpace(out) != want {
			t.Errorf("nodes:\n%s\nwant:\n%s", out, want)
		}
		// kubectl shows the masters' role.
		roles := v.kubectl(t, "get", "nodes", "-l", "node-role.kubernetes.io/control-plane", "-o", "name")
		if strings.TrimSpace(roles) != "node/master1\nnode/master2\nnode/master3" {
			t.Errorf("nodes labelled control-plane:\n%s", roles)
		}
	})

	t.Run("the add-ons' pods started once: no container restarted during bring-up", func(t *testing.T) {
		out := v.kubectl(t, "-n", "kube-system", "get", "pods", "-o", `jsonpath={range .items[*]}{.metadata.name}{range .status.containerStatuses[*]} {.name}={.restartCount}{end}{"\n"}{end}`)
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			pod, containers, _ := strings.Cut(line, " ")
			for _, c := range strings.Fields(containers) {
				name, count, _ := strings.Cut(c, "=")
				if count != "0" {
					prev, _ := v.tryKubectl("-n", "kube-system", "logs", "--previous", "--tail", "5", pod, "-c", name)
					t.Errorf("pod %s: container %s restarted %s times; its last run ended with:\n%s", pod, name, count, prev)
				}
			}
		}
	})
	t.Run("a pod from our image runs on the worker and its logs are readable", func(t *testing.T) {
		pod := `apiVersion: v1
kind: Pod
metadata: {name: hello, namespace: default}
spec:
  nodeName: worker1
  containers:
  - name: hello
    image: homeworld.private/hello:1
    imagePullPolicy: IfNotPresent
`
		v.kubectlIn(t, pod, "apply", "-f", "-")
		waitFor(t, "pod hello running", 90*time.Second, func() error {
			phase, err := v.tryKubectl("get", "pod", "hello", "-o", "jsonpath={.status.phase}")
			if err != nil || phase != "Running" {
				return fmt.Errorf("phase %q: %v", phase, err)
			}
			return nil
		})
		waitFor(t, "pod hello's logs", 30*time.Second, func() error {
			logs, err := v.tryKubectl("logs", "hello")
			if err != nil || !strings.Contains(logs, "hello from homeworld pod hello") {
				return fmt.Errorf("logs %q: %v", logs, err)
			}
			return nil
		})
	})

	t.Run("pods reach each other across nodes, through a ClusterIP and a NodePort", func(t *testing.T) {
		v.podNetwork(t)
	})

	t.Run("cluster DNS: Service names, NXDOMAIN, forwarding, idempotent deploy", func(t *testing.T) {
		v.clusterDNS(t)
	})

	t.Run("Kubernetes' own conformance tests, quick subset", func(t *testing.T) {
		v.conformanceQuick(t)
	})

	t.Run("upstream DNS down: cluster names resolve, verify dns names the forwarded one", func(t *testing.T) {
		v.upstreamDown(t)
	})

	t.Run("the registry: nodes pull from it, only admins push; stopped, verify pull names it", func(t *testing.T) {
		testRegistry(t, v)
	})
	t.Run("RBAC and add-ons only through the setup queue; a refused manifest is named, never lost", func(t *testing.T) {
		testSetupQueue(t, v)
	})
	t.Run("a worker switched off and on: the other pods keep talking, its own return", func(t *testing.T) {
		v.workerOutage(t)
	})

	t.Run("a node whose node process was killed boots clean: nothing from before runs, its pods start afresh", v.nodeProcessKilled)

	t.Run("a lost flannel lease is taken again when flannel restarts", func(t *testing.T) {
		v.flannelLeaseLost(t)
	})

	t.Run("monitors: verify flannel and dns pass; a node cut off fails flannel, naming it", func(t *testing.T) {
		v.monitors(t)
	})

	t.Run("a worker's credentials reach neither etcd nor other namespaces' secrets", func(t *testing.T) {
		w := v.topo.Nodes[len(v.topo.Nodes)-1]
		cert, key := w.Folder("/etc/homeworld/keys/kubernetes-worker.pem"), w.Folder("/etc/homeworld/keys/kubernetes-worker.key")
		out, err := v.tryKubectl("--client-certificate", cert, "--client-key", key, "get", "secrets", "-n", "kube-system")
		if err == nil || !strings.Contains(out, "Forbidden") || !strings.Contains(out, `User "system:node:`+w.Hostname+`" cannot list resource "secrets"`) {
			t.Errorf("worker listing kube-system secrets: %v\n%s", err, out)
		}
		etcd := exec.Command(filepath.Join(bin, "etcdctl"), "--endpoints", v.masterEndpoints()[0], "--cacert", filepath.Join(v.dir, "etcd-ca.pem"),
			"--cert", cert, "--key", key, "--dial-timeout", "3s", "--command-timeout", "5s", "get", "/registry/secrets", "--prefix", "--keys-only")
		if out, err := etcd.CombinedOutput(); err == nil {
			t.Errorf("etcd answered a worker's certificate:\n%s", out)
		}
	})

	t.Run("monitoring: every check passes, a stopped service fails exactly its check", func(t *testing.T) {
		v.diagnoseOnFailure(t)
		if !strings.Contains(out, fmt.Sprintf("all %d steps passed", steps)) {
			t.Errorf("virt up did not end with a green seq cluster:\n%s", out)
		}
		if out := v.spire(t, "verify", "all"); strings.Contains(out, "FAIL") {
			t.Fatalf("verify on a healthy cluster:\n%s", out)
		}
		v.spire(t, "virt", "service", "worker1", "kube-proxy", "stop")
		var last string
		waitFor(t, "verify to notice the stopped service", 60*time.Second, func() error {
			out, _, err := v.trySpire("verify", "all")
			last = out
			if err == nil {
				return fmt.Errorf("all checks still pass")
			}
			return nil
		})
		fails := 0
		for _, line := range strings.Split(strings.TrimSpace(last), "\n") {
			if strings.HasPrefix(line, "FAIL") {
				fails++
				if !strings.Contains(line, "FAIL services") || !strings.Contains(line, "node worker1: service kube-proxy is inactive, want active") {
					t.Errorf("unexpected failure: %s", line)
				}
			}
		}
		if fails != 1 {
			t.Errorf("%d checks failed, want exactly services:\n%s", fails, last)
		}
		v.spire(t, "virt", "service", "worker1", "kube-proxy", "start")
		waitFor(t, "verify to pass again", 60*time.Second, func() error {
			if out, _, err := v.trySpire("verify", "all"); err != nil {
				return fmt.Errorf("%s", out)
			}
			return nil
		})
		if out := v.spire(t, "seq", "cluster"); !strings.Contains(out, fmt.Sprintf("all %d steps passed", steps)) || !strings.Contains(out, fmt.Sprintf("[%d/%d] verify dns ok", steps, steps)) {
			t.Errorf("seq cluster:\n%s", out)
		}
	})

	t.Run("our exporters pass promtool check metrics", func(t *testing.T) {
		sup, w1 := v.cfg.Supervisor().IP, v.cfg.NodesOf(config.KindWorker)[0].IP
		for _, u := range []string{
			services.KeyserverAPI.URL(sup, "/metrics"),
			services.KeyclientStatus.URL(w1, "/metrics"),
			services.NodeSupervisor.URL(w1, "/metrics"),
			// The etcd exporter passes etcd's own names through, some of
			// which promtool finds fault with; its package test holds it to
			// adding no finding of its own.
			services.AuthMonitor.URL(sup, "/metrics"),
			services.KubeState.URL(sup, "/metrics"),
			services.RegistryFront.URL(sup, "/metrics"),
			services.SetupQueue.URL(sup, "/metrics"),
			services.PullMonitor.URL(w1, "/metrics"),
		} {
			body, err := getInsecure(u)
			if err != nil {
				t.Errorf("%s: %v", u, err)
				continue
			}
			cmd := exec.Command("promtool", "check", "metrics")
			cmd.Stdin = strings.NewReader(body)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool check metrics %s: %v\n%s", u, err, out)
			}
		}
	})

	t.Run("Prometheus keeps no apiserver or etcd histogram buckets; Go memory limits are in force", v.leanMonitoring)

	t.Run("a killed service is restarted and the metric shows it", func(t *testing.T) {
		now := v.status(t) // PIDs as they are now: earlier subtests restart nodes
		worker := now[len(now)-1]
		victim := worker.Services[0]
		syscall.Kill(victim.PID, syscall.SIGKILL)
		waitFor(t, victim.Name+" restarted on "+worker.Hostname, 30*time.Second, func() error {
			body, err := get(services.NodeSupervisor.URL(worker.IP, "/metrics"))
			if err != nil {
				return err
			}
			for _, want := range []string{
				fmt.Sprintf(`node_systemd_service_restart_total{name="%s.service"} 1`, victim.Name),
				fmt.Sprintf(`node_systemd_unit_state{name="%s.service",state="active",type="notify"} 1`, victim.Name),
			} {
				if !strings.Contains(body, want) {
					return fmt.Errorf("metrics lack %s", want)
				}
			}
			return nil
		})
	})

	t.Run("the API survives a master going down; etcd heals when it returns", func(t *testing.T) {
		v.spire(t, "virt", "stop", "master1")
		m2 := services.APIServer.URL(v.cfg.NodesOf(config.KindMaster)[1].IP, "")
		waitFor(t, "the API through master2", 30*time.Second, func() error {
			_, err := v.tryKubectl("--server", m2, "get", "nodes")
			return err
		})
		if healthy := v.etcdHealthy(t, v.masterEndpoints()); healthy != 2 {
			t.Errorf("%d healthy etcd members with master1 down, want 2", healthy)
		}
		v.spire(t, "virt", "start", "master1", "--bin-dir", bin)
		waitFor(t, "etcd back to 3 healthy members", 90*time.Second, func() error {
			if n := v.etcdHealthy(t, v.masterEndpoints()); n != 3 {
				return fmt.Errorf("%d healthy", n)
			}
			return nil
		})
		v.apiserverReady(t, v.cfg.NodesOf(config.KindMaster)[0], 2*time.Minute)
	})

	t.Run("2 of 3 masters down: the API says etcd is unavailable, verify names them; back, it heals", v.quorumLost)

	t.Run("up again is a no-op", func(t *testing.T) {
		if out, _ := v.up(t); !strings.Contains(out, "already up") {
			t.Errorf("second up:\n%s", out)
		}
	})

	start := time.Now()
	v.spire(t, "virt", "down")
	t.Logf("measured: virt down took %v", time.Since(start))
	v.assertGone(t, pids)
	v.spire(t, "virt", "down") // twice is safe
}

// apiserverReady waits up to d for master m's kube-apiserver to say it is
// ready: a master started again answers etcd long before its apiserver.
func (v *virtCluster) apiserverReady(t *testing.T, m config.Node, d time.Duration) {
	t.Helper()
	u := services.APIServer.URL(m.IP, "")
	waitFor(t, m.Hostname+"'s kube-apiserver ready", d, func() error {
		out, err := v.tryKubectl("--server", u, "get", "--raw", "/readyz")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
}

func (v *virtCluster) masterEndpoints() []string {
	var eps []string
	for _, m := range v.cfg.NodesOf(config.KindMaster) {
		eps = append(eps, services.EtcdClient.URL(m.IP, ""))
	}
	return eps
}

// etcdHealthy counts healthy members, asked with the admin's etcd
// certificate from spire access etcd.
func (v *virtCluster) etcdHealthy(t *testing.T, endpoints []string) int {
	cmd := exec.Command(filepath.Join(bin, "etcdctl"), "--endpoints", strings.Join(endpoints, ","),
		"--cacert", filepath.Join(v.dir, "etcd-ca.pem"), "--cert", filepath.Join(v.dir, "etcd-access.pem"),
		"--key", filepath.Join(v.dir, "etcd-access.key"), "--dial-timeout", "3s", "--command-timeout", "5s", "endpoint", "health")
	out, _ := cmd.CombinedOutput()
	return strings.Count(string(out), " is healthy")
}

func (v *virtCluster) tryKubectl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", filepath.Join(v.dir, "kubeconfig"), "--request-timeout", "10s"}, args...)...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (v *virtCluster) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := v.tryKubectl(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (v *virtCluster) kubectlIn(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", filepath.Join(v.dir, "kubeconfig")}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestVirtFailedUpCleansUp(t *testing.T) {
	v := newVirtCluster(t, 1, 1)
	_, errOut, err := v.trySpire("virt", "up", "--bin-dir", bin, "--timeout", "50ms")
	if err == nil || !strings.Contains(errOut, "deadline") {
		t.Fatalf("up with a 50ms timeout: %v\n%s", err, errOut)
	}
	v.assertGone(t, nil)
}

func TestVirtNeedsRoot(t *testing.T) {
	v := newVirtCluster(t, 1, 1)
	cmd := exec.Command(filepath.Join(bin, "spire"), "virt", "up", "--bin-dir", bin)
	cmd.Env = []string{"HOMEWORLD_DIR=" + v.dir, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "needs root") {
		t.Errorf("spire virt up as nobody: %v\n%s", err, out)
	}
}

// assertGone checks that nothing of the virtual cluster remains.
func (v *virtCluster) assertGone(t *testing.T, pids map[string]int) {
	t.Helper()
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), "hw"+v.topo.ID) {
		t.Errorf("namespaces remain:\n%s", out)
	}
	links, _ := exec.Command("ip", "-o", "link").Output()
	for _, n := range v.topo.Nodes {
		if strings.Contains(string(links), n.Veth) {
			t.Errorf("veth %s remains", n.Veth)
		}
	}
	if strings.Contains(string(links), v.topo.Bridge) {
		t.Errorf("bridge %s remains", v.topo.Bridge)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, v.topo.Dir) || strings.Contains(line, "/run/netns/hw"+v.topo.ID) {
			t.Errorf("mount remains: %s", line)
		}
	}
	for host, pid := range pids {
		if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(data), ") Z ") {
			t.Errorf("%s's node process %d still runs", host, pid)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range procs {
		if exe, err := os.Readlink(p); err == nil && strings.HasPrefix(exe, bin+"/") && !strings.HasSuffix(exe, "/spire") {
			t.Errorf("process %s of ours still runs: %s", p, exe)
		}
	}
	if cg, _ := filepath.Glob("/sys/fs/cgroup/*/homeworld-*"); len(cg) > 0 {
		t.Errorf("cgroups remain: %v", cg)
	}
	if _, err := os.Stat(v.topo.Dir); !os.IsNotExist(err) {
		t.Errorf("%s remains", v.topo.Dir)
	}
	for _, p := range []string{"/etc/homeworld", "/var/lib/homeworld", "/var/log/homeworld"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("mount point %s remains on the host", p)
		}
	}
}

// credentialFiles lists the credential files a node holds, as production
// paths.
func credentialFiles(root string) []string {
	var out []string
	for _, c := range credential.Catalogue {
		for _, p := range []string{c.Path, c.KeyPath} {
			if p == "" {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, p)); err == nil {
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

func kindFiles(k config.Kind) []string {
	var out []string
	for _, c := range credential.For(k) {
		out = append(out, c.Path)
		if c.KeyPath != "" {
			out = append(out, c.KeyPath)
		}
	}
	sort.Strings(out)
	return out
}

func getInsecure(url string) (string, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func get(url string) (string, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
