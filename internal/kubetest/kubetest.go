// Package kubetest starts a real etcd and a real kube-apiserver, the pinned
// upstream builds, on loopback for tests that need the API itself: its
// validation, server-side apply, RBAC. No controllers, scheduler or nodes
// run, so objects are stored and validated but nothing reconciles them.
// Certificates are made fresh for each server and thrown away with it.
// Only tests import it:
//
//	api := kubetest.Start(t)
//	out := api.Kubectl(t, "get", "namespaces")
//
// Starting takes a few seconds (mostly the apiserver's post-start hooks),
// so share one server between the subtests of a package and give each its
// own namespace.
package kubetest

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/kubeconfig"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/supervise"
	"homeworld.dev/homeworld/internal/testutil"
	"homeworld.dev/homeworld/internal/upstreamtest"
)

// ReadyTimeout bounds the wait for /readyz. A start on two cores takes
// about five seconds; the rest is margin for a loaded CI machine.
const ReadyTimeout = 90 * time.Second

// stopGrace is how long etcd and the apiserver get to end after SIGTERM.
const stopGrace = 10 * time.Second

// APIServer is a running kube-apiserver with its etcd.
type APIServer struct {
	URL        string // https://127.0.0.1:PORT
	Kubeconfig string // an admin's (system:masters) kubeconfig
	KubectlBin string // the pinned kubectl
	Dir        string // certificates, logs and etcd's data
	// KubectlCache is kubectl's discovery cache for this server
	// (--cache-dir), in Dir: a test leaves nothing in the machine's home.
	KubectlCache string

	creds credentials
}

// Start runs etcd and kube-apiserver until t ends and returns once the
// apiserver is ready. A failure to start fails t, with the end of the
// logs.
func Start(t testing.TB) *APIServer {
	t.Helper()
	// One copy of each component: kubectl sits beside the apiserver.
	apiserverBin := upstreamtest.Binary(t, "kubernetes", "kube-apiserver")
	etcdBin := upstreamtest.Binary(t, "etcd", "etcd")
	a := &APIServer{Dir: t.TempDir(), KubectlBin: filepath.Join(filepath.Dir(apiserverBin), "kubectl")}
	a.KubectlCache = filepath.Join(a.Dir, "kubectl-cache")
	var err error
	if a.creds, err = writeCredentials(a.Dir); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 3)
	etcdClient, etcdPeer, secure := ports[0], ports[1], ports[2]
	a.URL = "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(secure))
	etcdURL := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(etcdClient))
	peerURL := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(etcdPeer))

	etcd := start(t, filepath.Join(a.Dir, "etcd.log"), etcdBin,
		"--name", "kubetest",
		"--data-dir", filepath.Join(a.Dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "kubetest="+peerURL,
		"--unsafe-no-fsync", // throwaway data; fsync only slows tests
	)
	c := a.creds
	apiserver := start(t, filepath.Join(a.Dir, "kube-apiserver.log"), apiserverBin,
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		// The "kubernetes" Service cannot point at loopback; nothing
		// here needs it.
		"--endpoint-reconciler-type", "none",
		"--secure-port", strconv.Itoa(secure),
		"--etcd-servers", etcdURL,
		"--service-cluster-ip-range", "10.0.0.0/24",
		"--authorization-mode", "RBAC",
		"--client-ca-file", c.ca,
		"--tls-cert-file", c.serverCert, "--tls-private-key-file", c.serverKey,
		"--service-account-key-file", c.saPub,
		"--service-account-signing-key-file", c.saKey,
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--cert-dir", filepath.Join(a.Dir, "apiserver-certs"), // never the default /var/run/kubernetes
		"--profiling=false",
	)
	a.Kubeconfig = filepath.Join(a.Dir, "admin.kubeconfig")
	if err := a.WriteKubeconfig(a.Kubeconfig, a.URL); err != nil {
		t.Fatal(err)
	}
	a.waitReady(t, etcd, apiserver) // on failure start's cleanup prints the logs' ends
	return a
}

// WriteKubeconfig writes an admin kubeconfig for server, which may be
// another address than the apiserver's own (a closed port, to test what
// happens when the API does not answer).
func (a *APIServer) WriteKubeconfig(path, server string) error {
	data, err := kubeconfig.Render("kubetest", "kubetest-admin", kubeconfig.Files{
		Server: server, CA: a.creds.ca, Cert: a.creds.adminCert, Key: a.creds.adminKey,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// CA is the apiserver's one CA: it signed the serving certificate and
// every client certificate the apiserver accepts. A test issues its own
// clients with it (a user certificate, as the keyserver's kubernetes CA
// would in a cluster).
func (a *APIServer) CA() (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(a.creds.ca)
	if err != nil {
		return nil, nil, err
	}
	cert, err := pki.ParseCert(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", a.creds.ca, err)
	}
	keyPEM, err := os.ReadFile(a.creds.caKey)
	if err != nil {
		return nil, nil, err
	}
	key, err := pki.ParseKey(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", a.creds.caKey, err)
	}
	return cert, key, nil
}

// Kubectl runs the pinned kubectl as the admin and returns its standard
// output, failing t if it fails.
func (a *APIServer) Kubectl(t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := a.TryKubectl(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TryKubectl is Kubectl for commands whose failure the test expects or
// waits out; the error carries kubectl's standard error.
func (a *APIServer) TryKubectl(args ...string) ([]byte, error) {
	cmd := exec.Command(a.KubectlBin, append([]string{"--kubeconfig", a.Kubeconfig, "--cache-dir", a.KubectlCache}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// waitReady polls /readyz as the admin until it answers, failing t after
// ReadyTimeout or as soon as one of procs has exited.
func (a *APIServer) waitReady(t testing.TB, procs ...process) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(a.creds.adminCert, a.creds.adminKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(a.creds.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}},
	}}
	defer client.CloseIdleConnections()
	testutil.WaitFor(t, ReadyTimeout, "kube-apiserver's /readyz", func() (bool, error) {
		for _, p := range procs {
			select {
			case <-p.exited:
				t.Fatalf("%s exited while starting; its log is %s", p.name, p.log)
			default:
			}
		}
		resp, err := client.Get(a.URL + "/readyz")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("%s: %s", resp.Status, lastLines(body.String(), 5))
		}
		return true, nil
	})
}

// process is a child that start started.
type process struct {
	name, log string
	exited    <-chan struct{} // closed once it has ended
}

// start runs argv with its output in logPath, and stops it when t ends:
// SIGTERM, then SIGKILL after stopGrace. The child also dies with the test
// process (Pdeathsig), so a test killed by its timeout leaves nothing
// running.
func start(t testing.TB, logPath string, argv ...string) process {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		supervise.Stop(supervise.Process{PID: cmd.Process.Pid, Group: true, Exited: exited}, stopGrace)
		if t.Failed() {
			t.Logf("the end of %s:\n%s", logPath, tail(logPath, 30))
		}
	})
	return process{name: filepath.Base(argv[0]), log: logPath, exited: exited}
}

// FreePort is a loopback TCP port nobody listens on right now. Another
// process may take it before the caller does; on a test machine that is
// rare enough.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freePorts is n distinct loopback TCP ports nobody listens on right now.
// Each stays held until all are chosen: one FreePort after another may be
// handed the port the previous call just released (CI once started the
// apiserver on etcd's client port).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return lastLines(string(data), n)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
