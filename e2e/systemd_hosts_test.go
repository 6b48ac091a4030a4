//go:build e2e

package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/debpkg"
	"homeworld.dev/homeworld/internal/hostsetup"
	"homeworld.dev/homeworld/internal/virt"
	"homeworld.dev/homeworld/internal/virt/nspawn"
)

// TestSystemdHosts is the production path end to end: 1 supervisor, 1
// master and 1 worker booted as systemd hosts (systemd-nspawn, systemd as
// PID 1, real sshd) with nothing of Homeworld on them; the packages built
// from this build and published as a signed apt branch; then the
// original's flow with spire over SSH — pin the supervisor's key, install
// packages, seq supervisor, admit the nodes, seq cluster — to green, the
// worker installed instead by what its ISO carries (installWithISO). Every
// unit of the service map is active under real systemd on every host; a
// re-run changes and restarts nothing; a unit killed with SIGKILL is
// restarted by systemd and verify names the restart.
func TestSystemdHosts(t *testing.T) {
	v := newVirtCluster(t, 1, 1)
	// What the worker's installer needs besides: a Debian mirror (never
	// reached: the host already has Debian) and the upstream resolver,
	// which the virtual cluster runs on the bridge's gateway.
	v.editSetup(t, "  etcd-token: virt-etcd\n", "  etcd-token: virt-etcd\n  mirror: deb.debian.org/debian\n")
	v.editSetup(t, "root-admins:", "dns-upstreams: ["+virt.DNSUpstreams(v.topo)[0]+"]\nroot-admins:")
	start := time.Now()
	debs, _ := packages(t)
	branch := filepath.Join(t.TempDir(), "branch")
	v.spire(t, "branch", "build", "--packages", debs, "--out", branch, "--url", virt.BranchURL(v.topo))
	t.Logf("measured: packages and branch built in %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	out := v.spire(t, "virt", "up", "--hosts", "systemd", "--branch", branch, "--bin-dir", bin)
	t.Logf("measured: %d systemd hosts booted in %v\n%s", len(v.cfg.Nodes), time.Since(start).Round(time.Millisecond), out)
	keys := v.topo.HostKeysFile()

	start = time.Now()
	step := func(args ...string) string {
		t.Helper()
		s := time.Now()
		out := v.spire(t, args...)
		t.Logf("measured: spire %s took %v\n%s", strings.Join(args, " "), time.Since(s).Round(time.Millisecond), lastLines(out, 30))
		return out
	}
	step("access", "pull-supervisor-key", keys)
	// The worker is installed from its ISO; the others over SSH.
	worker := v.cfg.NodesOf(config.KindWorker)[0].Hostname
	others := []string{v.cfg.Supervisor().Hostname}
	var masters []string
	for _, n := range v.cfg.NodesOf(config.KindMaster) {
		masters = append(masters, n.Hostname)
	}
	others = append(others, masters...)
	step(append([]string{"infra", "install-packages", "--host-keys", keys}, others...)...)
	step("seq", "supervisor", "--images", filepath.Join(bin, "images"))
	step(append([]string{"setup", "node", "--host-keys", keys}, masters...)...)
	v.installWithISO(t, worker)
	step("seq", "cluster")
	t.Logf("measured: booted hosts to green seq cluster in %v", time.Since(start).Round(time.Second))

	for _, n := range v.cfg.Nodes {
		t.Logf("measured: %s", hostMemory(t, v, n))
	}

	t.Run("every unit of the map active under systemd", func(t *testing.T) {
		for _, n := range v.cfg.Nodes {
			units, _ := hostsetup.Units(v.cfg, n)
			out, errOut, err := v.trySpire("foreach", string(n.Kind), "--", "systemctl is-active "+strings.Join(units, " "))
			if err != nil || strings.Count(out, "active\n") != len(units)*len(v.cfg.NodesOf(n.Kind)) || strings.Contains(out, "activating") {
				t.Errorf("%s: %v\n%s%s", n.Hostname, err, out, errOut)
			}
		}
	})

	t.Run("re-running changes and restarts nothing", func(t *testing.T) {
		before := invocations(t, v)
		out := v.spire(t, "infra", "install-packages")
		if strings.Count(out, "already current") != len(v.cfg.Nodes) {
			t.Errorf("install-packages again:\n%s", out)
		}
		out = v.spire(t, "seq", "supervisor", "--images", filepath.Join(bin, "images"))
		if !strings.Contains(out, "keyserver active (unchanged)") || strings.Contains(out, "restarted") {
			t.Errorf("seq supervisor again:\n%s", out)
		}
		v.spire(t, "setup", "node", "--all")
		if after := invocations(t, v); after != before {
			t.Errorf("units were restarted:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})

	t.Run("a newer branch upgrades the running cluster and keeps every credential", func(t *testing.T) {
		newer := t.TempDir()
		if _, err := debpkg.Build(debpkg.Options{BinDir: bin, OutDir: newer, Version: "0.0.2+e2e", Epoch: time.Unix(1795800000, 0).UTC()}); err != nil {
			t.Fatal(err)
		}
		v.spire(t, "branch", "build", "--packages", newer, "--out", branch, "--url", virt.BranchURL(v.topo))
		ids := "sha256sum /etc/homeworld/keyclient/granting.pem /etc/homeworld/keys/*.pem"
		before := v.spire(t, "foreach", "node", "--", ids)
		out := v.spire(t, "infra", "install-packages")
		if strings.Count(out, "units restarted") != len(v.cfg.Nodes) {
			t.Errorf("upgrade:\n%s", out)
		}
		if after := v.spire(t, "foreach", "node", "--", ids); after != before {
			t.Errorf("credentials changed in the upgrade:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if out := v.spire(t, "foreach", "node", "--", "dpkg-query -W -f '${Version}\\n' homeworld-keyclient"); strings.Count(out, "0.0.2+e2e") != len(v.cfg.Nodes) {
			t.Errorf("versions after the upgrade:\n%s", out)
		}
		v.spire(t, "seq", "cluster")
	})

	t.Run("a host that refuses SSH stops install-packages before anything changes", func(t *testing.T) {
		worker := v.topo.Nodes[len(v.topo.Nodes)-1]
		inHost := func(cmd string) {
			t.Helper()
			st, err := nspawn.Status(nspawn.Host{Dir: worker.Dir})
			if err != nil || !st.Running {
				t.Fatalf("%s: %+v %v", worker.Hostname, st, err)
			}
			if out, err := exec.Command("nsenter", "-t", fmt.Sprint(st.Leader), "-a", "sh", "-c", cmd).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", cmd, err, out)
			}
		}
		inHost("systemctl stop ssh.socket ssh.service")
		before := invocations(t, v, config.KindSupervisor, config.KindMaster)
		out, errOut, err := v.trySpire("infra", "install-packages")
		if err == nil || !strings.Contains(errOut, worker.Hostname) || !strings.Contains(errOut, "refuses SSH connections") || !strings.Contains(errOut, "nothing was changed on any host") {
			t.Errorf("install-packages with worker1's sshd down: %v\n%s%s", err, out, errOut)
		}
		if strings.Contains(out, "installing") {
			t.Errorf("install-packages started installing before every host passed its checks:\n%s", out)
		}
		if after := invocations(t, v, config.KindSupervisor, config.KindMaster); after != before {
			t.Errorf("units changed on the other hosts")
		}
		inHost("systemctl start ssh.service")
		if out := v.spire(t, "infra", "install-packages"); strings.Count(out, "already current") != len(v.cfg.Nodes) {
			t.Errorf("second run:\n%s", out)
		}
	})

	t.Run("a unit killed with SIGKILL comes back and verify names the restart", func(t *testing.T) {
		worker := v.cfg.NodesOf(config.KindWorker)[0]
		v.spire(t, "foreach", "worker", "--", "systemctl kill --signal=KILL kube-proxy.service")
		waitFor(t, "systemd restarts kube-proxy", time.Minute, func() error {
			out, _, err := v.trySpire("foreach", "worker", "--", "systemctl show -p NRestarts -p ActiveState kube-proxy.service")
			if err != nil {
				return err
			}
			if !strings.Contains(out, "NRestarts=1") || !strings.Contains(out, "ActiveState=active") {
				return fmt.Errorf("%s", out)
			}
			return nil
		})
		waitFor(t, "verify services names the restart", time.Minute, func() error {
			out, _, _ := v.trySpire("verify", "services")
			if !strings.Contains(out, worker.Hostname) || !strings.Contains(out, "kube-proxy.service restarted") {
				return fmt.Errorf("%s", out)
			}
			return nil
		})
	})
}

// invocations lists every unit's invocation ID on every host: a restart
// changes it.
func invocations(t *testing.T, v *virtCluster, kinds ...config.Kind) string {
	t.Helper()
	if len(kinds) == 0 {
		kinds = config.Kinds
	}
	var b strings.Builder
	for _, k := range kinds {
		units, _ := hostsetup.Units(v.cfg, v.cfg.NodesOf(k)[0])
		b.WriteString(v.spire(t, "foreach", string(k), "--", "systemctl show -p Id -p InvocationID "+strings.Join(units, " ")))
	}
	return b.String()
}

// hostMemory is a host's resident memory as spire virt status reports it.
func hostMemory(t *testing.T, v *virtCluster, n config.Node) string {
	for _, s := range v.status(t) {
		if s.Hostname == n.Hostname {
			return fmt.Sprintf("%s (%s) uses %.1f MiB", n.Hostname, n.Kind, float64(s.Usage.PSS)/(1<<20))
		}
	}
	return n.Hostname + ": no status"
}
