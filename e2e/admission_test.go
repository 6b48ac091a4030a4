//go:build e2e

package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/layout"
)

// cluster is a keyserver started from a workspace exactly as an operator
// would: spire generates authorities, installs the keyserver's files, and
// the keyserver binary serves them.
type cluster struct {
	*env
	supervisor layout.Node
	addr       string
	keyserver  *exec.Cmd
}

func startCluster(t *testing.T) *cluster {
	e := newEnv(t)
	e.spire(t, "disaster-key", "gen", e.key)
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "setup.yaml"), []byte(keysystemtest.Setup), 0o644); err != nil {
		t.Fatal(err)
	}
	e.spire(t, "authority", "gen")
	c := &cluster{env: e, supervisor: layout.Node{Root: filepath.Join(t.TempDir(), "supervisor")}}
	e.spire(t, "setup", "keyserver", "--root", c.supervisor.Root)
	// Port 0: the kernel picks a free port as the keyserver binds, and the
	// keyserver logs it; a port chosen beforehand could be taken meanwhile.
	var out *output
	c.keyserver, out = daemon(t, filepath.Join(bin, "keyserver"), "--root", c.supervisor.Root, "--listen", "127.0.0.10:0")
	serving := regexp.MustCompile(`serving \S+ on (\S+)`)
	waitFor(t, "the keyserver to log the address it serves on", 15*time.Second, func() error {
		m := serving.FindStringSubmatch(out.String())
		if m == nil {
			return errors.New("no \"serving NAME on ADDRESS\" line yet")
		}
		c.addr = m[1]
		return nil
	})
	healthy(t, c.addr)
	return c
}

// admitNode installs a node's bootstrap files and runs its keyclient until
// every credential is in place.
func (c *cluster) admitNode(t *testing.T, hostname, ip string) layout.Node {
	t.Helper()
	n := layout.Node{Root: filepath.Join(t.TempDir(), hostname)}
	c.spire(t, "setup", "node", hostname, "--root", n.Root, "--keyserver", c.addr)
	out, err := runWithTimeout(t, 60*time.Second, filepath.Join(bin, "keyclient"),
		"--root", n.Root, "--keyserver", c.addr, "--source-ip", ip, "--metrics-listen", "", "--until-ready")
	if err != nil || !strings.HasSuffix(out, "ready\n") {
		t.Fatalf("keyclient for %s: %v\n%s", hostname, err, out)
	}
	return n
}

func TestAdmissionWithRealBinaries(t *testing.T) {
	c := startCluster(t)
	n := c.admitNode(t, "master2", "127.0.0.22")
	for _, p := range []string{"/etc/homeworld/keys/etcd-server.pem", "/etc/homeworld/keys/serviceaccount.key", "/etc/ssh/ssh_host_ed25519_key-cert.pub"} {
		if _, err := os.Stat(n.Path(p)); err != nil {
			t.Errorf("master2 lacks %s: %v", p, err)
		}
	}
	if _, err := os.Stat(n.BootstrapToken()); !os.IsNotExist(err) {
		t.Error("the spent admission token was left on the node")
	}
	audit, err := os.ReadFile(c.supervisor.KeyserverAuditLog())
	if err != nil || !strings.Contains(string(audit), `"action":"token-redeem","principal":"master2.test.homeworld.example","remote":"127.0.0.22","result":"ok"`) {
		t.Errorf("redemption not audited: %v\n%s", err, audit)
	}
}

// Log rotation as logrotate does it: rename, SIGHUP, and the keyserver
// writes to a new file; no line is lost or lands in the wrong file.
func TestAuditLogRotationOnSIGHUP(t *testing.T) {
	c := startCluster(t)
	log := c.supervisor.KeyserverAuditLog()
	c.spire(t, "infra", "admit", "--keyserver", c.addr, "worker1")
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	if err := c.keyserver.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "keyserver reopening its audit log", 10*time.Second, func() error {
		_, err := os.Stat(log)
		return err
	})
	c.spire(t, "infra", "admit", "--keyserver", c.addr, "worker2")
	old, _ := os.ReadFile(log + ".1")
	cur, _ := os.ReadFile(log)
	if !strings.Contains(string(old), `"target":"worker1.test.homeworld.example"`) || !strings.Contains(string(cur), `"target":"worker2.test.homeworld.example"`) || strings.Contains(string(cur), "worker1") {
		t.Errorf("rotated log:\n%s\ncurrent log:\n%s", old, cur)
	}
	if st, err := os.Stat(log); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("new audit log: %v %v", st.Mode(), err)
	}
}
