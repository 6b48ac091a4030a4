//go:build e2e

package e2e

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/debimage"
	"homeworld.dev/homeworld/internal/debpkg"
	"homeworld.dev/homeworld/internal/debroot"
	"homeworld.dev/homeworld/internal/hostsetup"
	"homeworld.dev/homeworld/internal/installer"
	"homeworld.dev/homeworld/internal/isoimage"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/virt/nspawn"
)

// installerSetup is the test keyserver's cluster with what an installer
// also needs: a mirror and upstream DNS.
var installerSetup = strings.Replace(keysystemtest.Setup, "cluster:\n", "cluster:\n  mirror: deb.debian.org/debian\n", 1) +
	"dns-upstreams: [127.0.0.53]\n"

// TestInstallerLateCommand runs what the ISO's late command runs inside
// the installed system (install.sh, through chroot as the installer's
// in-target does, with debconf's teletype frontend in place of the
// installer's console) in a Debian 12 root that holds the Debian programs
// Homeworld runs (the systemd hosts' image, which has no Debian sources:
// Debian's mirror is outside this machine). It installs the worker's
// packages from a real signed branch, refuses a token with a typo at the
// prompt and takes the right one; the keyclient installed in the root
// then redeems it with a real keyserver and holds every credential of a
// worker (--until-ready returns only then). Run again and answered
// "manual", it installs nothing new and writes no token.
func TestInstallerLateCommand(t *testing.T) {
	ks := keysystemtest.StartWith(t, keysystemtest.Options{Setup: installerSetup})
	br := servedBranch(t)
	worker, _ := ks.Config.FindNode("worker1")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	image, err := nspawn.EnsureImage(ctx, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	root := debroot.FromArchive(t, image)
	// The image's host keys were removed for each host to make its own;
	// the installer's openssh-server made them.
	inRoot(t, root, "ssh-keygen", "-A")

	trust := installer.Trust{ClusterCA: ks.Authority("clusterca").Cert, AptURL: br.url, AptKeyring: br.key.Keyring()}
	trust.SSHUserCA = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ks.Authority("ssh-user").SSHKey)))
	files, err := installer.Files(ks.Config, worker, trust)
	if err != nil {
		t.Fatal(err)
	}
	var staged []isoimage.File
	for _, f := range files {
		staged = append(staged, isoimage.File{Path: f.Path, Data: f.Data, Mode: f.Mode})
	}

	tok := ks.Admit("worker1")
	start := time.Now()
	out := runInstall(t, ctx, root, staged, mistyped(tok)+"\n"+tok+"\n")
	t.Logf("measured: install.sh (packages, units, token) took %v\n%s", time.Since(start).Round(time.Millisecond), lastLines(out, 40))
	if !strings.Contains(out, "That is not an admission token") || !strings.Contains(out, "checksum does not match") {
		t.Errorf("the token with a typo was not refused at the prompt:\n%s", out)
	}
	if n := strings.Count(out, "Admission token for worker1."); n != 2 {
		t.Errorf("the prompt was shown %d times, want 2 (the typo, then the token):\n%s", n, out)
	}

	node := layout.Node{Root: root}
	if got, err := os.ReadFile(node.BootstrapToken()); err != nil || strings.TrimSpace(string(got)) != tok {
		t.Errorf("bootstrap.token holds %q (%v), want the token typed", got, err)
	}
	if st, err := os.Stat(node.BootstrapToken()); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("bootstrap.token: %v %v, want mode 0600", st.Mode(), err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "var/cache/debconf/passwords.dat")); strings.Contains(string(data), tok) {
		t.Error("the token stays in debconf's database")
	}
	if out := inRoot(t, root, "dpkg-query", "-W", "-f", "${Status}", hostsetup.KindPackage(worker.Kind)); out != "install ok installed" {
		t.Errorf("%s: %q", hostsetup.KindPackage(worker.Kind), out)
	}
	units, _ := hostsetup.Units(ks.Config, worker)
	if out := inRoot(t, root, append([]string{"systemctl", "is-enabled"}, units...)...); strings.Count(out, "enabled\n") != len(units) {
		t.Errorf("units of a worker after the install (%s):\n%s", strings.Join(units, " "), out)
	}
	for path, want := range map[string]string{
		"etc/hosts":                                    "127.0.0.10\tsupervisor.test.homeworld.example # AUTO-HOMEWORLD-BOOTSTRAP\n",
		"etc/ssh/sshd_config.d/homeworld.conf":         "TrustedUserCAKeys /etc/ssh/ssh_user_ca.pub\n",
		"etc/homeworld/config/keyserver.domain":        "supervisor.test.homeworld.example",
		"etc/issue":                                    "homeworld: worker1.test.homeworld.example (worker)\nhomeworld: 256 SHA256:",
		"etc/apt/sources.list.d/homeworld-stable.list": br.url,
	} {
		if got, err := os.ReadFile(filepath.Join(root, path)); err != nil || !strings.Contains(string(got), want) {
			t.Errorf("%s does not hold %q (%v):\n%s", path, want, err, got)
		}
	}

	// The keyclient the packages installed, with the files the installer
	// wrote. In the installed system it starts at boot and dials the
	// keyserver by name from the node's address; here the keyserver is on
	// loopback, so the test gives both.
	start = time.Now()
	keyclient := filepath.Join(debpkg.BinDir, "keyclient")
	out = inRoot(t, root, keyclient, "--until-ready", "--keyserver", ks.Addr, "--source-ip", worker.IP, "--metrics-listen", "")
	t.Logf("measured: the installed keyclient credentialed the node in %v", time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(node.GrantingCert()); err != nil {
		t.Errorf("no node identity after the keyclient ran: %v\n%s", err, out)
	}
	if _, err := os.Stat(node.BootstrapToken()); !os.IsNotExist(err) {
		t.Errorf("the redeemed token is still on disk: %v", err)
	}
	if audit := ks.AuditLog(); !strings.Contains(audit, "worker1.test.homeworld.example") {
		t.Errorf("the keyserver's audit log does not show worker1's admission:\n%s", audit)
	}

	// Again, with "manual": nothing new is installed and no token written.
	out = runInstall(t, ctx, root, staged, "manual\n")
	if !strings.Contains(out, "no token; admit worker1 later") || !strings.Contains(out, "0 upgraded, 0 newly installed") {
		t.Errorf("a second run answering manual:\n%s", out)
	}
	if _, err := os.Stat(node.BootstrapToken()); !os.IsNotExist(err) {
		t.Errorf("a token file after answering manual: %v", err)
	}
}

// runInstall does in root what the installer's late command does in the
// installed system: copies the installer's Homeworld files there and runs
// install.sh through chroot, as in-target does, with package scripts kept
// from starting daemons (in-target's policy-rc.d; here they would start on
// this machine). The answers to its questions come on standard input, for
// debconf's teletype frontend. It returns what install.sh printed.
func runInstall(t *testing.T, ctx context.Context, root string, files []isoimage.File, answers string) string {
	t.Helper()
	for _, f := range files {
		if rel, ok := strings.CutPrefix(f.Path, installer.Dir+"/"); ok {
			p := filepath.Join(root, installer.TargetDir, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	policy := filepath.Join(root, "usr/sbin/policy-rc.d")
	if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(policy)
	defer os.RemoveAll(filepath.Join(root, installer.TargetDir))
	cmd := exec.CommandContext(ctx, "chroot", root, "sh", filepath.Join(installer.TargetDir, "install.sh"))
	cmd.Env = append(append([]string{}, debimage.Env...), "DEBIAN_FRONTEND=teletype")
	cmd.Stdin = strings.NewReader(answers)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	return string(out)
}

// mistyped is tok with its last character, part of the checksum, changed:
// always caught as a typo.
func mistyped(tok string) string {
	last := byte('A')
	if tok[len(tok)-1] == 'A' {
		last = 'B'
	}
	return tok[:len(tok)-1] + string(last)
}

// installWithISO installs the systemd host hostname of v as its ISO would
// once Debian is on the disk: spire iso gen writes the ISO, the files its
// initrd carries go to the host's root while the host is off, install.sh
// runs there (a token with a typo first, then the one spire infra admit
// gave), and the host boots again. systemd then starts the units the
// installer enabled, and the keyclient redeems the token.
func (v *virtCluster) installWithISO(t *testing.T, hostname string) {
	t.Helper()
	dir := t.TempDir()
	out := v.spire(t, "iso", "gen", hostname, "--out", dir)
	t.Logf("measured: spire iso gen %s: %s", hostname, strings.TrimSpace(out))
	files, err := isoimage.Appended(filepath.Join(dir, hostname+".iso"))
	if err != nil {
		t.Fatal(err)
	}
	granted := v.spire(t, "infra", "admit", hostname)
	tok, ok := strings.CutPrefix(strings.TrimSpace(granted), "Token granted for "+hostname+": ")
	if !ok {
		t.Fatalf("spire infra admit %s: %q", hostname, granted)
	}
	var root string
	for _, n := range v.topo.Nodes {
		if n.Hostname == hostname {
			root = nspawn.Host{Dir: n.Dir}.Root()
		}
	}
	v.spire(t, "virt", "stop", hostname)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	out = runInstall(t, ctx, root, files, mistyped(tok)+"\n"+tok+"\n")
	t.Logf("measured: install.sh on %s took %v", hostname, time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out, "That is not an admission token") || !strings.Contains(out, "admission token accepted") {
		t.Errorf("install.sh did not refuse the typo, then take the token:\n%s", out)
	}
	start = time.Now()
	v.spire(t, "virt", "start", hostname)
	granting := layout.Node{Root: root}.GrantingCert()
	waitFor(t, hostname+"'s keyclient to redeem its token at boot", 2*time.Minute, func() error {
		_, err := os.Stat(granting)
		return err
	})
	t.Logf("measured: %s booted and holds its identity %v after spire virt start", hostname, time.Since(start).Round(time.Millisecond))
}

// inRoot runs argv in the Debian root (chroot, a clean environment) for
// at most 5 minutes, failing the test if it fails, and returns its
// combined output.
func inRoot(t *testing.T, root string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := debimage.Chroot(ctx, root, argv...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}
