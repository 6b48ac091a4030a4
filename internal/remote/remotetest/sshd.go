// Package remotetest starts a real OpenSSH server on loopback for tests of
// code that drives hosts over SSH (internal/remote and its callers). Only
// tests import it. It needs root, as sshd does to log a user in, and
// /usr/sbin/sshd, which scripts/install-deps installs (openssh-server).
package remotetest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/testutil"
)

// sshdPath is where Debian's openssh-server puts sshd; it must be absolute
// because sshd re-executes itself for every connection.
const sshdPath = "/usr/sbin/sshd"

// startTimeout bounds how long sshd may take to say it listens.
const startTimeout = 10 * time.Second

// Options shape the test server.
type Options struct {
	// AuthorizedKeys may log in as root.
	AuthorizedKeys []ssh.PublicKey
	// UserCA, if set, is trusted for user certificates, as on a node after
	// spire setup supervisor-ssh.
	UserCA ssh.PublicKey
	// HostCA, if set, certifies the host key for HostPrincipals, and sshd
	// presents the certificate (HostCertificate), as a Homeworld node does.
	HostCA         ssh.Signer
	HostPrincipals []string
	// RecordCommands keeps every command line sshd is asked to run, for
	// Commands (sshd does not log them, even at DEBUG3).
	RecordCommands bool
	// LogLevel is sshd's; default VERBOSE.
	LogLevel string
}

// SSHD is a running test server.
type SSHD struct {
	Addr     string           // 127.0.0.1:port
	HostKey  ssh.PublicKey    // its Ed25519 host key (the certified key, if certified)
	HostCert *ssh.Certificate // nil unless Options.HostCA was set
	Dir      string           // its config, keys and log
	logPath  string
}

// commandsFile is where a recording sshd keeps command lines, each ended
// by a NUL byte (a command line can hold any other byte).
const commandsFile = "commands"

// recorder runs as every session's forced command: it records the command
// the client asked for, which sshd passes in SSH_ORIGINAL_COMMAND, and
// runs it with the user's shell as sshd would have.
const recorder = `#!/bin/sh
printf '%%s\0' "$SSH_ORIGINAL_COMMAND" >> '%s'
exec "$SHELL" -c "$SSH_ORIGINAL_COMMAND"
`

// Commands are the command lines sshd was asked to run, in order, if
// Options.RecordCommands was set.
func (s *SSHD) Commands() []string {
	data, err := os.ReadFile(filepath.Join(s.Dir, commandsFile))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
}

// Log is what sshd has logged so far.
func (s *SSHD) Log() string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	return string(data)
}

// Start runs sshd on a free loopback port until t ends, with a host key of
// its own made by ssh-keygen, and returns once it listens.
func Start(t testing.TB, o Options) *SSHD {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Fatalf("%s is missing (scripts/install-deps installs openssh-server): %v", sshdPath, err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("sshd must run as root to log users in; run these tests as root, as CI does")
	}
	// Debian's sshd refuses to start without its privilege separation
	// folder, which the ssh service creates at boot.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &SSHD{Dir: dir, logPath: filepath.Join(dir, "sshd.log")}
	keyPath := filepath.Join(dir, "ssh_host_ed25519_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", keyPath).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	s.HostKey = readPublicKey(t, keyPath+".pub")
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	add("ListenAddress 127.0.0.1")
	add("HostKey %s", keyPath)
	if o.HostCA != nil {
		s.HostCert = signHostKey(t, o.HostCA, s.HostKey, o.HostPrincipals)
		writeFile(t, keyPath+"-cert.pub", ssh.MarshalAuthorizedKey(s.HostCert))
		add("HostCertificate %s-cert.pub", keyPath)
	}
	var authorized []byte
	for _, k := range o.AuthorizedKeys {
		authorized = append(authorized, ssh.MarshalAuthorizedKey(k)...)
	}
	writeFile(t, filepath.Join(dir, "authorized_keys"), authorized)
	add("AuthorizedKeysFile %s", filepath.Join(dir, "authorized_keys"))
	if o.UserCA != nil {
		writeFile(t, filepath.Join(dir, "user_ca.pub"), ssh.MarshalAuthorizedKey(o.UserCA))
		add("TrustedUserCAKeys %s", filepath.Join(dir, "user_ca.pub"))
	}
	if o.RecordCommands {
		script := filepath.Join(dir, "record-command")
		if err := os.WriteFile(script, []byte(fmt.Sprintf(recorder, filepath.Join(dir, commandsFile))), 0o755); err != nil {
			t.Fatal(err)
		}
		add("ForceCommand %s", script)
	}
	logLevel := o.LogLevel
	if logLevel == "" {
		logLevel = "VERBOSE"
	}
	add("LogLevel %s", logLevel)
	// The temp folder's owner and modes are not what StrictModes wants for
	// a home folder, and PAM would read the machine's own configuration.
	add("StrictModes no")
	add("UsePAM no")
	add("PidFile none")
	add("PermitRootLogin prohibit-password")
	add("PasswordAuthentication no")
	add("KbdInteractiveAuthentication no")
	add("AcceptEnv none")
	configPath := filepath.Join(dir, "sshd_config")
	writeFile(t, configPath, []byte(strings.Join(lines, "\n")+"\n"))

	args := []string{"-D", "-e", "-f", configPath}
	// OpenSSH 9.8 and later shut out an address that failed to log in for a
	// while, which would turn one test's refused key into the next one's
	// refused connection; older versions do not know the option.
	if exec.Command(sshdPath, "-t", "-f", configPath, "-o", "PerSourcePenalties=no").Run() == nil {
		args = append(args, "-o", "PerSourcePenalties=no")
	}
	if out, err := exec.Command(sshdPath, append([]string{"-t"}, args[2:]...)...).CombinedOutput(); err != nil {
		t.Fatalf("sshd -t rejects the test configuration: %v: %s", err, out)
	}
	// Another process may take the free port before sshd binds it; then
	// sshd exits saying so and another port is tried.
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		err := s.run(t, append(args, "-p", fmt.Sprint(port)), port)
		if err == nil {
			s.Addr = net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
			return s
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatalf("sshd did not start: %v\n%s", err, s.Log())
		}
	}
}

var errPortTaken = errors.New("port taken")

// run starts sshd and waits until it listens on port or has exited.
func (s *SSHD) run(t testing.TB, args []string, port int) error {
	t.Helper()
	logFile, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(sshdPath, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// sshd dies with the test process, so a test killed by its timeout
	// leaves no server behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	exited := make(chan error, 1)
	go func() {
		exited <- cmd.Wait()
		logFile.Close()
	}()
	listening := fmt.Sprintf("Server listening on 127.0.0.1 port %d.", port)
	var exitErr error
	testutil.WaitFor(t, startTimeout, "sshd to listen on port "+fmt.Sprint(port), func() (bool, error) {
		select {
		case err := <-exited:
			exitErr = fmt.Errorf("sshd exited: %v", err)
			if strings.Contains(s.Log(), "Address already in use") {
				exitErr = errPortTaken
			}
			return true, nil
		default:
		}
		return strings.Contains(s.Log(), listening), nil
	})
	if exitErr != nil {
		return exitErr
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("sshd's log:\n%s", s.Log())
		}
	})
	return nil
}

// signHostKey certifies key as a host key for principals, valid for an
// hour from a minute ago (so clock skew between the steps is no matter).
func signHostKey(t testing.TB, ca ssh.Signer, key ssh.PublicKey, principals []string) *ssh.Certificate {
	t.Helper()
	now := time.Now()
	cert := &ssh.Certificate{
		Key:             key,
		CertType:        ssh.HostCert,
		KeyId:           "remotetest host",
		ValidPrincipals: principals,
		ValidAfter:      uint64(now.Add(-time.Minute).Unix()),
		ValidBefore:     uint64(now.Add(time.Hour).Unix()),
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	return cert
}

func readPublicKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// freePort is a loopback port nobody listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ClosedAddr is a loopback address that refuses connections until t ends:
// its port is held by a socket that is bound but does not listen (and
// without SO_REUSEADDR, so nobody else can bind it meanwhile). A port
// merely free now could be listened on by the time a test connects.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(sa.(*syscall.SockaddrInet4).Port))
}
