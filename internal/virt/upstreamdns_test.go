package virt

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/dnsaddon"
	"homeworld.dev/homeworld/internal/supervise"
	"homeworld.dev/homeworld/internal/testutil"
	"homeworld.dev/homeworld/internal/upstreamtest"
)

// TestUpstreamResolver runs the upstream resolver as virt up does (our
// coredns, as nobody, its Corefile on stdin) on the loopback address of a
// private network namespace, so nothing it does reaches the machine's
// network, and asks it with dig: the check name resolves, anything else is
// refused.
func TestUpstreamResolver(t *testing.T) {
	coredns, inside := testutil.InPrivateNetns(t, func() string { return upstreamtest.Binary(t, "coredns", "coredns") })
	if !inside {
		return
	}
	// The test's temporary folders are closed to nobody, as a bin folder
	// under /root would be.
	binDir := strings.TrimSuffix(coredns, "/coredns")
	addr := netip.MustParseAddr("127.0.0.1")
	var log strings.Builder
	cmd, err := upstreamDNSCommand(binDir, addr, &log)
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Start()
	cmd.ExtraFiles[0].Close()
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { supervise.Stop(supervise.Process{PID: cmd.Process.Pid, Exited: exited}, 5*time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := waitUpstreamDNS(ctx, addr, exited); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !isUpstreamDNS(cmd.Process.Pid) {
		t.Error("the resolver's process is not recognised as one")
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
	if err != nil || !strings.Contains(string(status), "\nUid:\t65534\t") {
		t.Errorf("the resolver does not run as nobody:\n%s", status)
	}

	dig := func(name, qtype string) string {
		out, err := exec.Command("dig", "@"+addr.String(), "+time=2", "+tries=1", name, qtype).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	if out := dig(UpstreamCheckName, "A"); !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, UpstreamCheckAddr.String()) {
		t.Errorf("%s:\n%s", UpstreamCheckName, out)
	}
	for _, name := range []string{"example.com", "kubernetes.default.svc.cluster.local", "homeworld.test"} {
		if out := dig(name, "A"); !strings.Contains(out, "status: REFUSED") {
			t.Errorf("%s was not refused:\n%s", name, out)
		}
	}
	if !strings.Contains(log.String(), UpstreamCheckName) {
		t.Errorf("the query log lacks %s:\n%s", UpstreamCheckName, log.String())
	}
	t.Run("cluster DNS forwards to it", func(t *testing.T) { clusterDNSForwards(t, coredns, addr) })
}

// clusterDNSForwards runs the cluster DNS's Corefile, forwarding to the
// upstream resolver at upstream, without its kubernetes block (there is no
// API server here): the server, forward, cache, loop, health, ready and
// prometheus parts as the add-on renders them.
func clusterDNSForwards(t *testing.T, coredns string, upstream netip.Addr) {
	cfg, _, err := config.Parse("setup.yaml", []byte(Setup(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	corefile, err := dnsaddon.Corefile(cfg, dnsaddon.Options{Upstreams: []string{upstream.String()}})
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(corefile, "    kubernetes ")
	end := strings.Index(corefile[start:], "\n    }\n") + start + len("\n    }\n")
	corefile = corefile[:start] + corefile[end:]
	cmd := exec.Command(coredns, "-conf", "stdin")
	cmd.Stdin = strings.NewReader(corefile)
	dns := testutil.StartChild(t, "coredns", cmd)

	url := func(p dnsaddon.Port, path string) string {
		return "http://" + net.JoinHostPort(upstream.String(), strconv.Itoa(p.Number)) + path
	}
	dns.WaitAnswers(t, 10*time.Second, url(dnsaddon.Ready, "/ready"))
	dig := func(name string) string {
		out, err := exec.Command("dig", "@"+upstream.String(), "-p", strconv.Itoa(dnsaddon.DNS.Number), "+time=2", "+tries=1", name, "A").CombinedOutput()
		if err != nil {
			t.Fatalf("dig %s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	if out := dig(UpstreamCheckName); !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, UpstreamCheckAddr.String()) {
		t.Errorf("%s through the cluster DNS:\n%s", UpstreamCheckName, out)
	}
	if out := dig("example.com"); !strings.Contains(out, "status: REFUSED") {
		t.Errorf("example.com through the cluster DNS was not refused upstream:\n%s", out)
	}
	for _, u := range []string{url(dnsaddon.Health, "/health"), url(dnsaddon.Metrics, "/metrics")} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s", u, resp.Status)
		}
		forwarded := `coredns_proxy_request_duration_seconds_count{proxy_name="forward",rcode="NOERROR",to="` + net.JoinHostPort(upstream.String(), strconv.Itoa(upstreamDNSPort)) + `"}`
		if strings.HasSuffix(u, "/metrics") && !strings.Contains(string(body), forwarded) {
			t.Errorf("metrics lack %s", forwarded)
		}
	}
}
