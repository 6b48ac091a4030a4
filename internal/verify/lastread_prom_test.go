package verify

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/dnsmonitor"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/testutil"
)

// TestDNSCheckOutlastsAFailedScrapeOnRealPrometheus runs the dns check
// against Debian's Prometheus scraping a stand-in for dns-monitor (plain
// text in its exposition format; the monitor's own output is tested in its
// package) whose scrapes start failing: the failed scrape empties the
// instant query, the check still passes from the last good scrape, and
// once no scrape has worked for the check's bound it fails, naming the
// scrape.
func TestDNSCheckOutlastsAFailedScrapeOnRealPrometheus(t *testing.T) {
	if _, inside := testutil.InPrivateNetns(t, func() string { return "prometheus" }); !inside {
		return
	}
	c := testConfig(t)
	want, err := dnsmonitor.Expected(c)
	if err != nil {
		t.Fatal(err)
	}
	var failing atomic.Bool
	monitor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "the stand-in's scrapes fail now", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "dns_lookup_recency %d\n", time.Now().Unix())
		for _, e := range want {
			fmt.Fprintf(w, "dns_lookup_internal_check{hostname=%q} 1\n", e.Name)
		}
		fmt.Fprintf(w, "dns_lookup_upstream_check{hostname=%q} 1\n", upName)
	}))
	defer monitor.Close()

	p := startPrometheus(t, "dns-monitor", strings.TrimPrefix(monitor.URL, "http://"))
	ctx := context.Background()
	check, err := Find("dns")
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, "the dns check to pass on the stand-in's results", func() (bool, error) {
		err := check.Run(ctx, p, c)
		return err == nil, err
	})

	failing.Store(true)
	testutil.WaitFor(t, 30*time.Second, "Prometheus to record a failed scrape", func() (bool, error) {
		up, err := p.Query(ctx, `up{job="dns-monitor"}`)
		return err == nil && len(up) == 1 && up[0].Value == 0, err
	})
	if now, err := p.Query(ctx, `dns_lookup_recency`); err != nil || len(now) != 0 {
		t.Errorf("after a failed scrape, dns_lookup_recency now = %v, %v; want nothing (the series marked stale)", now, err)
	}
	if err := check.Run(ctx, p, c); err != nil {
		t.Errorf("dns check just after a failed scrape: %v", err)
	}

	var last error
	testutil.WaitFor(t, 2*DNSRecency, "the dns check to fail once no scrape has worked for its bound", func() (bool, error) {
		last = check.Run(ctx, p, c)
		return last != nil, nil
	})
	wantErr := "dns: Prometheus has read nothing from dns-monitor in the last 30s; its scrapes through the first master's apiserver fail: " +
		"server returned HTTP status 503 Service Unavailable (is it deployed and running? spire deploy dns-monitor)"
	if last.Error() != wantErr {
		t.Errorf("dns check after %s of failed scrapes = %v\nwant: %s", DNSRecency, last, wantErr)
	}
}

// startPrometheus runs Prometheus scraping target as job every second and
// returns a client once it is ready; the test's end stops it.
func startPrometheus(t *testing.T, job, target string) *Prometheus {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	yml := fmt.Sprintf("global: {scrape_interval: 1s, scrape_timeout: 1s}\n"+
		"scrape_configs:\n- job_name: %s\n  honor_labels: true\n  static_configs: [{targets: [%q]}]\n", job, target)
	if err := os.WriteFile(conf, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := services.Prometheus.Addr("127.0.0.1") // a private network namespace: nothing else listens
	cmd := exec.Command("prometheus", "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	testutil.StartChild(t, "prometheus", cmd).WaitAnswers(t, 60*time.Second, "http://"+addr+"/-/ready")
	return NewPrometheus("http://" + addr)
}
