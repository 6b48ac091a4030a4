package nspawn

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/services"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/images"
	"homeworld.dev/homeworld/internal/testutil"
)

// The test network: a bridge and one network namespace per host, made
// inside the test's private network namespace (the namespaces' names are
// the machine's, hence the PID in them), in a range nothing else uses.
const (
	testBridge = "hwntbr0"
	testNet    = "10.215.0"
)

// image returns the host image, made outside the private network
// namespace (it needs Debian's mirror), with how long that took.
func image(t *testing.T) func() string {
	return func() string {
		start := time.Now()
		var out bytes.Buffer
		img, err := EnsureImage(context.Background(), &out)
		if err != nil {
			t.Fatalf("%v\n%s", err, out.Bytes())
		}
		if out.Len() > 0 {
			t.Logf("image made (cold) in %v:\n%s", time.Since(start).Round(time.Millisecond), out.Bytes())
		} else {
			t.Logf("image %s was cached", filepath.Base(img))
		}
		return img
	}
}

// testHost makes the network of host i (10.215.0.i+10 on the test bridge)
// and describes the host, with key as root's authorized key.
func testHost(t *testing.T, i int, key ssh.PublicKey) Host {
	t.Helper()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	if exec.Command("ip", "link", "show", testBridge).Run() != nil {
		run("link", "add", testBridge, "type", "bridge")
		run("addr", "add", testNet+".1/24", "dev", testBridge)
		run("link", "set", testBridge, "up")
	}
	name := fmt.Sprintf("hwnt%d", i)
	ns := fmt.Sprintf("hwnt-%d-%d", os.Getpid(), i)
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	veth := fmt.Sprintf("hwntv%d", i)
	run("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
	run("link", "set", veth, "master", testBridge, "up")
	run("-n", ns, "addr", "add", fmt.Sprintf("%s.%d/24", testNet, 10+i), "dev", "eth0")
	run("-n", ns, "link", "set", "eth0", "up")
	run("-n", ns, "link", "set", "lo", "up")
	h := Host{
		Name:           name,
		FQDN:           name + ".nspawn.test",
		Netns:          "/run/netns/" + ns,
		Dir:            t.TempDir(),
		AuthorizedKeys: ssh.MarshalAuthorizedKey(key),
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), StopTimeout+killTimeout)
		defer cancel()
		if err := Stop(ctx, h); err != nil {
			t.Error(err)
		}
	})
	return h
}

func (h Host) addr() string {
	var i int
	fmt.Sscanf(h.Name, "hwnt%d", &i)
	return services.SSH.Addr(fmt.Sprintf("%s.%d", testNet, 10+i))
}

// sshKey is a fresh key for root's authorized_keys.
func sshKey(t *testing.T) ssh.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dial connects as root, accepting only a host key Boot reported.
func dial(t *testing.T, h Host, r *Running, key ssh.Signer) *ssh.Client {
	t.Helper()
	conf := &ssh.ClientConfig{
		User: "root",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			fp := ssh.FingerprintSHA256(k)
			for _, hk := range r.HostKeys {
				if hk.Fingerprint == fp {
					return nil
				}
			}
			return fmt.Errorf("host key %s is none Boot reported", fp)
		},
		Timeout: 10 * time.Second,
	}
	var c *ssh.Client
	testutil.WaitFor(t, 30*time.Second, "sshd of "+h.Name, func() (bool, error) {
		var err error
		c, err = ssh.Dial("tcp", h.addr(), conf)
		return err == nil, err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// sshRun runs cmd on the host and returns its combined output.
func sshRun(c *ssh.Client, cmd string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return strings.TrimSpace(string(out)), err
}

func mustSSH(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	out, err := sshRun(c, cmd)
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return out
}

// TestHostBootsRunsContainersAndStops boots a host, logs in with SSH
// (checking the host key Boot reported), runs a container in it with
// Debian's containerd and runc, stops it leaving nothing behind, and
// boots it again from the root it kept.
func TestHostBootsRunsContainersAndStops(t *testing.T) {
	img, inside := testutil.InPrivateNetns(t, image(t))
	if !inside {
		return
	}
	key := sshKey(t)
	h := testHost(t, 1, key.PublicKey())
	ctx := context.Background()

	start := time.Now()
	if err := os.MkdirAll(h.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := prepareRoot(ctx, h, img); err != nil {
		t.Fatal(err)
	}
	t.Logf("made the root from the image in %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	r, err := Boot(ctx, h, img)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("booted (%s) in %v; host keys %v", r.State, time.Since(start).Round(time.Millisecond), fingerprints(r))
	if r.State != "running" {
		t.Errorf("systemd is %s, failed units %v; want running", r.State, r.Failed)
	}
	if mounts, err := os.ReadFile("/proc/self/mountinfo"); err != nil || bytes.Contains(mounts, []byte(h.Dir)) {
		t.Errorf("the running host's mounts show on the machine (%v):\n%s", err, mounts)
	}
	st, err := Status(h)
	if err != nil || !st.Running || st.RSS == 0 || st.PID != r.PID || st.Leader != r.Leader {
		t.Fatalf("Status = %+v, %v; want running with its memory", st, err)
	}
	t.Logf("idle host: %d processes, RSS %d MiB: %s", st.Processes, st.RSS>>20, memoryByProgram(h))

	c := dial(t, h, r, key)
	if got := mustSSH(t, c, "systemctl is-system-running"); got != "running" {
		t.Errorf("systemctl is-system-running over SSH: %q", got)
	}
	if got := mustSSH(t, c, "hostname"); got != h.Name {
		t.Errorf("hostname %q, want %q", got, h.Name)
	}
	again, err := Boot(ctx, h, img)
	if err != nil || again.PID != r.PID || !slices.EqualFunc(again.HostKeys, r.HostKeys, func(a, b HostKey) bool { return a.Fingerprint == b.Fingerprint }) {
		t.Errorf("Boot of the running host: %+v, %v; want it as it is (%+v)", again, err, r)
	}

	runContainer(t, h, c)
	// systemd applies units' cgroup limits, as on a real host.
	if got := mustSSH(t, c, "systemd-run --quiet --unit=hwtest-limit -p MemoryLimit=64M sleep 600 && "+
		"cat /sys/fs/cgroup/memory/system.slice/hwtest-limit.service/memory.limit_in_bytes"); strings.TrimSpace(got) != "67108864" {
		t.Errorf("a unit's memory limit in the host: %q", got)
	}
	mustSSH(t, c, "sysctl -w net.ipv4.ip_forward=1")
	mustSSH(t, c, "mkdir -p /tmp/o/l /tmp/o/u /tmp/o/w /tmp/o/m && echo x >/tmp/o/l/f && "+
		"mount -t overlay overlay -o lowerdir=/tmp/o/l,upperdir=/tmp/o/u,workdir=/tmp/o/w /tmp/o/m && "+
		"cat /tmp/o/m/f && umount /tmp/o/m")
	// What the kubelet and kube-proxy need beyond containerd: the
	// kernel's log (OOM kills) and connection tracking.
	mustSSH(t, c, "timeout 5 head -n 1 /dev/kmsg")
	mustSSH(t, c, "conntrack -L")
	// apt works, with no source but the ones Homeworld will add.
	if out := mustSSH(t, c, "apt-get update && ls /etc/apt/sources.list.d; ls /etc/apt/sources.list 2>&1 || true"); strings.Contains(out, "deb.debian.org") || !strings.Contains(out, "No such file") {
		t.Errorf("apt sources in the host: %s", out)
	}
	mustSSH(t, c, "touch /root/kept && echo '10.9.9.9 kept.example' >>/etc/hosts")
	c.Close()
	st, err = Status(h)
	t.Logf("after the container tests: %d processes, RSS %d MiB: %s (%v)", st.Processes, st.RSS>>20, memoryByProgram(h), err)

	start = time.Now()
	if err := Stop(ctx, h); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %v", time.Since(start).Round(time.Millisecond))
	if log, err := os.ReadFile(h.ConsoleLog()); err != nil || !bytes.Contains(log, []byte("Container "+h.Name+" has been shut down.")) {
		t.Errorf("the host did not shut down cleanly: %v\n%s", err, tail(log, 2000))
	}
	assertGone(t, h, r)

	start = time.Now()
	r2, err := Boot(ctx, h, img)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("booted again (%s) in %v", r2.State, time.Since(start).Round(time.Millisecond))
	if !slices.EqualFunc(r2.HostKeys, r.HostKeys, func(a, b HostKey) bool { return a.Fingerprint == b.Fingerprint }) {
		t.Errorf("host keys changed across Stop and Boot: %v, then %v", r.HostKeys, r2.HostKeys)
	}
	c = dial(t, h, r2, key)
	// The root is the host's disk: a later boot rewrites nothing of it.
	mustSSH(t, c, "test -e /root/kept && grep -q kept.example /etc/hosts")

	// systemd-nspawn killed leaves the host's systemd running without it:
	// Boot clears that away and boots the host afresh.
	if err := syscall.Kill(r2.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "systemd-nspawn to die", func() (bool, error) {
		s, err := readStat(r2.PID)
		return err != nil || s.state == 'Z', nil
	})
	r3, err := Boot(ctx, h, img)
	if err != nil {
		t.Fatal(err)
	}
	if r3.PID == r2.PID || r3.Leader == r2.Leader || r3.State != "running" {
		t.Errorf("Boot after systemd-nspawn was killed: %+v, before %+v", r3, r2)
	}
	if s, err := readStat(r2.Leader); err == nil && s.state != 'Z' {
		t.Errorf("the old host's systemd (%d) is still there", r2.Leader)
	}
}

func fingerprints(r *Running) []string {
	var fps []string
	for _, k := range r.HostKeys {
		fps = append(fps, k.Type+" "+k.Fingerprint)
	}
	return fps
}

// runContainer starts containerd in the host the way Homeworld's worker
// does (a unit of the host's systemd; the CRI plugin restricted from
// lowering oom_score_adj, which needs CAP_SYS_RESOURCE) and runs a
// container with it, from an image imported without any registry.
func runContainer(t *testing.T, h Host, c *ssh.Client) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "hello.go")
	if err := os.WriteFile(src, []byte(`package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "wait" {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM)
		<-stop
		return
	}
	name, _ := os.Hostname()
	fmt.Printf("hello from a container on %s\n", name)
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hello")
	build := exec.Command("go", "build", "-o", bin, src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the container's program: %v\n%s", err, out)
	}
	spec, err := images.Binary(bin, "/hello")
	if err != nil {
		t.Fatal(err)
	}
	im, err := images.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	const ref = "hwtest.local/hello:1"
	if err := images.WriteArchive(filepath.Join(h.Root(), "root/hello.tar"), []string{ref}, im); err != nil {
		t.Fatal(err)
	}
	const conf = `version = 2
root = "/var/lib/hwtest-containerd"
state = "/run/hwtest-containerd"
[grpc]
  address = "/run/hwtest-containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
`
	if err := os.WriteFile(filepath.Join(h.Root(), "etc/hwtest-containerd.toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSSH(t, c, "systemd-run --unit=hwtest-containerd containerd --config /etc/hwtest-containerd.toml")
	const ctr = "ctr --address /run/hwtest-containerd/containerd.sock "
	testutil.WaitFor(t, 30*time.Second, "containerd in the host", func() (bool, error) {
		out, err := sshRun(c, ctr+"version")
		if err != nil {
			return false, fmt.Errorf("%v: %s", err, out)
		}
		return true, nil
	})
	mustSSH(t, c, ctr+"images import /root/hello.tar")
	start := time.Now()
	out := mustSSH(t, c, ctr+"run --rm "+ref+" hello")
	t.Logf("container ran in %v: %s", time.Since(start).Round(time.Millisecond), out)
	if want := "hello from a container on "; !strings.HasPrefix(out, want) {
		t.Errorf("the container printed %q, want %q...", out, want)
	}
	// A container left running is the host's: in its cgroups, so in its
	// memory, and gone when it stops.
	mustSSH(t, c, ctr+"run -d "+ref+" waiter /hello wait")
	testutil.WaitFor(t, 10*time.Second, "the container's process among the host's", func() (bool, error) {
		st, err := readState(h)
		if err != nil || st == nil {
			return false, fmt.Errorf("no state: %v", err)
		}
		for _, pid := range cgroupPIDs(st.Cgroups) {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "hello" {
				return true, nil
			}
		}
		return false, nil
	})
}

// memoryByProgram sums the resident memory of the host's processes by
// program name, largest first.
func memoryByProgram(h Host) string {
	st, err := readState(h)
	if err != nil || st == nil {
		return ""
	}
	by := map[string]int64{}
	for _, pid := range cgroupPIDs(st.Cgroups) {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		by[strings.TrimSpace(string(comm))] += rss(pid)
	}
	names := slices.Collect(maps.Keys(by))
	slices.SortFunc(names, func(a, b string) int { return int(by[b] - by[a]) })
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.1f", n, float64(by[n])/(1<<20)))
	}
	return strings.Join(parts, ", ")
}

// assertGone checks that a stopped host left nothing: no process (in its
// network namespace, its cgroups, or with its root), no mount under its
// folder, no cgroup.
func assertGone(t *testing.T, h Host, r *Running) {
	t.Helper()
	if st, err := Status(h); err != nil || st.Running {
		t.Errorf("Status after Stop: %+v, %v", st, err)
	}
	if out, _ := exec.Command("ip", "netns", "pids", filepath.Base(h.Netns)).Output(); len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("processes left in the host's network namespace: %s", out)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		if root, err := os.Readlink(p + "/root"); err == nil && strings.HasPrefix(root, h.Root()) {
			t.Errorf("process %s left with the host's root", filepath.Base(p))
		}
	}
	for _, pid := range []int{r.PID, r.Leader} {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			if s, err := readStat(pid); err == nil && s.state != 'Z' {
				t.Errorf("process %d (state %c) left", pid, s.state)
			}
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(mounts, []byte(h.Dir)) {
		t.Errorf("mounts left under %s:\n%s", h.Dir, mounts)
	}
	if dirs, _ := ownCgroups(); len(dirs) > 0 {
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, cgroupKey(h))); err == nil {
				t.Errorf("cgroup %s left", filepath.Join(d, cgroupKey(h)))
			}
		}
	} else {
		t.Error("no cgroup hierarchy found")
	}
}

// TestParallelHostsHaveTheirOwnKeys boots two hosts at once: each has its
// own SSH host keys and answers with them.
func TestParallelHostsHaveTheirOwnKeys(t *testing.T) {
	img, inside := testutil.InPrivateNetns(t, image(t))
	if !inside {
		return
	}
	key := sshKey(t)
	hosts := []Host{testHost(t, 2, key.PublicKey()), testHost(t, 3, key.PublicKey())}
	running := make([]*Running, len(hosts))
	errs := make([]error, len(hosts))
	start := time.Now()
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			running[i], errs[i] = Boot(context.Background(), h, img)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("two hosts unpacked and booted at once in %v", time.Since(start).Round(time.Millisecond))
	seen := map[string]string{}
	for i, h := range hosts {
		for _, k := range running[i].HostKeys {
			if other, ok := seen[k.Fingerprint]; ok {
				t.Errorf("%s and %s share host key %s", other, h.Name, k.Fingerprint)
			}
			seen[k.Fingerprint] = h.Name
		}
		c := dial(t, h, running[i], key)
		if got := mustSSH(t, c, "hostname; cat /etc/machine-id"); !strings.HasPrefix(got, h.Name+"\n") {
			t.Errorf("%s says %q", h.Name, got)
		} else if other, ok := seen[got]; ok {
			t.Errorf("%s and %s share a machine ID", other, h.Name)
		} else {
			seen[got] = h.Name
		}
		st, err := Status(h)
		if err != nil || !st.Running {
			t.Fatalf("Status(%s) = %+v, %v", h.Name, st, err)
		}
		t.Logf("%s idle: %d processes, RSS %d MiB", h.Name, st.Processes, st.RSS>>20)
	}
}
