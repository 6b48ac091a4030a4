package virt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"homeworld.dev/homeworld/internal/supervise"
)

// The virtual cluster's upstream resolver. setup.yaml's dns-upstreams are
// not reachable from the virtual cluster, and its queries must never leave
// this machine; so its cluster DNS forwards to a resolver of its own, our
// coredns binary on the host's bridge address. It knows one name and
// refuses every other zone (it forwards nothing), so forwarding is tested
// end to end and stops there.

// UpstreamCheckName is the one name the upstream resolver answers, with
// UpstreamCheckAddr: a pod that resolves it went through the cluster DNS's
// forwarding.
const UpstreamCheckName = "upstream-check.homeworld.test"

// UpstreamCheckAddr is documentation space (TEST-NET-2): an answer, never
// an address anyone dials.
var UpstreamCheckAddr = netip.MustParseAddr("198.51.100.53")

// upstreamDNSPort is where forward sends queries when the upstream names
// no port.
const upstreamDNSPort = 53

// DNSUpstreams is what the virtual cluster's DNS forwards to, in place of
// setup.yaml's dns-upstreams.
func DNSUpstreams(t *Topology) []string { return []string{t.Gateway.Addr().String()} }

// UpstreamCorefile is the upstream resolver's configuration, listening on
// addr only. Queries outside the check name's zone match no server block,
// and CoreDNS refuses them.
func UpstreamCorefile(addr netip.Addr) string {
	return fmt.Sprintf(`%s:%d {
    bind %s
    hosts {
        %s %s
    }
    log
    errors
}
`, UpstreamCheckName, upstreamDNSPort, addr, UpstreamCheckAddr, UpstreamCheckName)
}

// upstreamDNSCommand runs coredns from binDir as the upstream resolver on
// addr: as nobody, with no capability but binding port 53, its Corefile on
// stdin, detached from spire's session. nobody may not be able to reach
// binDir (under /root, say), so the binary is opened here and executed
// through its descriptor; the caller closes cmd.ExtraFiles once started.
func upstreamDNSCommand(binDir string, addr netip.Addr, log io.Writer) (*exec.Cmd, error) {
	bin, err := os.Open(filepath.Join(binDir, "coredns"))
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/3", // ExtraFiles[0] in the child
		Args:       []string{"coredns", "-conf", "stdin"},
		Stdin:      strings.NewReader(UpstreamCorefile(addr)),
		Stdout:     log,
		Stderr:     log,
		Dir:        "/",
		ExtraFiles: []*os.File{bin},
		SysProcAttr: &syscall.SysProcAttr{
			Setsid:      true,
			Credential:  &syscall.Credential{Uid: 65534, Gid: 65534},
			AmbientCaps: []uintptr{unix.CAP_NET_BIND_SERVICE},
		},
	}
	return cmd, nil
}

// waitUpstreamDNS waits until the resolver on addr answers the check name,
// failing early if its process exited.
func waitUpstreamDNS(ctx context.Context, addr netip.Addr, exited <-chan struct{}) error {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(addr.String(), strconv.Itoa(upstreamDNSPort)))
	}}
	for {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		ips, err := r.LookupNetIP(qctx, "ip4", UpstreamCheckName)
		cancel()
		if err == nil && len(ips) == 1 && ips[0] == UpstreamCheckAddr {
			return nil
		}
		select {
		case <-exited:
			return errors.New("the upstream resolver exited")
		case <-ctx.Done():
			return fmt.Errorf("the upstream resolver on %s did not answer %s: %w (last: %v %v)", addr, UpstreamCheckName, ctx.Err(), ips, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (t *Topology) upstreamDNSLog() string { return filepath.Join(t.Dir, "upstream-dns.log") }

// startUpstreamDNS starts the resolver on the bridge's host address unless
// it runs, and records its PID for down.
func startUpstreamDNS(ctx context.Context, t *Topology, st *State, binDir string) error {
	if isUpstreamDNS(st.UpstreamDNS) {
		return nil
	}
	// The cluster DNS's image too, which no pod could otherwise pull.
	for _, f := range []string{"coredns", "images/coredns.tar"} {
		if _, err := os.Stat(filepath.Join(binDir, f)); err != nil {
			return fmt.Errorf("%s is missing from %s (build everything with scripts/build %s, or pass --bin-dir)", f, binDir, binDir)
		}
	}
	logf, err := os.OpenFile(t.upstreamDNSLog(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd, err := upstreamDNSCommand(binDir, t.Gateway.Addr(), logf)
	if err != nil {
		return err
	}
	err = cmd.Start()
	cmd.ExtraFiles[0].Close()
	if err != nil {
		return fmt.Errorf("starting the upstream resolver: %w", err)
	}
	st.UpstreamDNS = cmd.Process.Pid
	if err := st.save(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := waitUpstreamDNS(wctx, t.Gateway.Addr(), exited); err != nil {
		return fmt.Errorf("%w; see %s", err, t.upstreamDNSLog())
	}
	return nil
}

// stopUpstreamDNS ends the resolver, if it runs.
func stopUpstreamDNS(st *State, out io.Writer) {
	if isUpstreamDNS(st.UpstreamDNS) {
		fmt.Fprintf(out, "stopping the upstream resolver (pid %d)\n", st.UpstreamDNS)
		supervise.Stop(supervise.Process{PID: st.UpstreamDNS}, 5*time.Second)
	}
}

// isUpstreamDNS guards against signalling a recycled PID.
func isUpstreamDNS(pid int) bool {
	if pid <= 0 {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.HasPrefix(string(cmdline), "coredns\x00-conf\x00stdin\x00") && supervise.Alive(pid)
}

// deployAddons starts the upstream resolver and queues the cluster DNS
// add-on (forwarding to it) and the monitors, returning the items.
func deployAddons(ctx context.Context, t *Topology, st *State, o Options) ([]string, error) {
	if err := startUpstreamDNS(ctx, t, st, o.BinDir); err != nil {
		return nil, err
	}
	ms, err := AddonManifests(t, o.Config)
	if err != nil {
		return nil, err
	}
	return Enqueue(t, ms...)
}

// UpstreamDNS stops or starts the virtual cluster's upstream resolver, so
// an operator (or a test) sees the cluster without its upstream: names
// inside the cluster still resolve, forwarding fails.
func UpstreamDNS(ctx context.Context, t *Topology, binDir string, start bool, out io.Writer) error {
	st, err := loadState(t)
	if err != nil {
		return err
	}
	if !allUp(t, st) {
		return errors.New("virtual cluster is not running: spire virt up")
	}
	if start {
		return startUpstreamDNS(ctx, t, st, binDir)
	}
	stopUpstreamDNS(st, out)
	st.UpstreamDNS = 0
	return st.save()
}
