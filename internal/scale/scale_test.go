package scale

import (
	"fmt"
	"testing"

	"homeworld.dev/homeworld/internal/config"
)

// TestAdmission admits 100 nodes at once: every one becomes ready, and the
// keyserver's audit log and token store show each token issued and redeemed
// exactly once and nothing refused. It asserts no timing.
func TestAdmission(t *testing.T) {
	res := Run(t, Options{Nodes: 100})
	t.Log(res)
	if res.Grants == 0 {
		t.Error("no grants audited")
	}
}

// TestSetupValidates: the generated setup.yaml of 10,000 nodes passes
// validation, in the node range 127.0.0.0/8 beside the supervisor.
func TestSetupValidates(t *testing.T) {
	cfg, warnings, err := config.Parse("setup.yaml", []byte(Setup(21, 9979)))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %v", warnings)
	}
	if got := len(cfg.Nodes); got != 10001 {
		t.Errorf("%d nodes, want 10001", got)
	}
	if n, ok := cfg.FindNode("worker-9979"); !ok || n.IP != "127.1.39.16" {
		t.Errorf("worker-9979 = %+v, %v; want 127.1.39.16", n, ok)
	}
}

// BenchmarkAdmission admits 100, 1,000 and 10,000 nodes, at most
// DefaultWindow at once, and reports ns per node (tokens and
// credentials), the total, and the keyserver's grants per second. Run:
//
//	go test ./internal/scale -run '^$' -bench Admission -benchtime 1x -timeout 30m
func BenchmarkAdmission(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var res Result
			for range b.N {
				res = Run(b, Options{Nodes: n})
				b.Log(res)
			}
			report(b, res)
		})
	}
}

// report reports what a benchmark's run measured.
func report(b *testing.B, res Result) {
	b.ReportMetric(res.NsPerNode(), "ns/node")
	b.ReportMetric(res.Total().Seconds(), "total-s")
	b.ReportMetric(res.Issue.Seconds(), "tokens-s")
	b.ReportMetric(res.Admit.Seconds(), "credentials-s")
	b.ReportMetric(res.Half.Seconds(), "half-ready-s")
	b.ReportMetric(res.Most.Seconds(), "p99-ready-s")
	b.ReportMetric(res.GrantsPerSecond(), "grants/s")
	b.ReportMetric(float64(res.Retries), "retries")
	b.ReportMetric(float64(res.Shed), "shed")
	b.ReportMetric(float64(res.CPU.Nanoseconds())/float64(res.Nodes), "cpu-ns/node")
	b.ReportMetric(float64(res.MaxRSS>>20), "peak-MiB")
}
