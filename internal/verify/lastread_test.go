package verify

import (
	"context"
	"maps"
	"testing"
)

// scrapes is a stored range of up: one point per (unix seconds, value).
func scrapes(job string, points ...[2]any) string {
	return answer("matrix", []map[string]any{{"metric": map[string]string{"job": job}, "values": points}})
}

// TestNetworkChecksReadTheLastGoodScrape: when Prometheus's latest scrape
// of a monitor failed, the check asks every question as of the last
// scrape that worked; with none inside the recency bound, it fails
// naming the scrape, not the network.
func TestNetworkChecksReadTheLastGoodScrape(t *testing.T) {
	c := testConfig(t)
	for _, tc := range []struct {
		check, job, window, bound string
		queries                   []string
	}{
		{"dns", "dns-monitor", "30s", "30s", []string{qDNSAge, qDNSInternal, qDNSUpstream}},
		{"flannel", "flannel-monitor", "60s", "1m0s", []string{qCollectEnum, qCollectEnumDup, qCollect, qMonitor, qDuplicate, qMonitorAge, qTalk}},
	} {
		scraped, stored := `up{job="`+tc.job+`"}`, `up{job="`+tc.job+`"}[`+tc.window+`]`
		t.Run(tc.check+"/one scrape failed", func(t *testing.T) {
			answers := healthy(c)
			maps.Copy(answers, map[string]string{
				scraped: vector(sample{map[string]string{"job": tc.job}, "0"}),
				stored:  scrapes(tc.job, [2]any{1700000000.5, "1"}, [2]any{1700000005.5, "1"}, [2]any{1700000010.5, "0"}),
			})
			f, err := run(t, tc.check, answers)
			if err != nil {
				t.Fatalf("check %s after one failed scrape: %v", tc.check, err)
			}
			for _, q := range tc.queries {
				if got := f.at[q]; got != "1700000005.500" {
					t.Errorf("%s asked at %q, want at the last good scrape, 1700000005.500", q, got)
				}
			}
			if got := f.at[scraped]; got != "" {
				t.Errorf("%s asked at %q, want now", scraped, got)
			}
		})
		t.Run(tc.check+"/no good scrape within the bound", func(t *testing.T) {
			answers := healthy(c)
			maps.Copy(answers, map[string]string{
				scraped: vector(sample{map[string]string{"job": tc.job}, "0"}),
				stored:  scrapes(tc.job, [2]any{1700000000.5, "0"}, [2]any{1700000005.5, "0"}),
			})
			check, err := Find(tc.check)
			if err != nil {
				t.Fatal(err)
			}
			f, p := newFakeProm(t, answers)
			f.targets = `{"status":"success","data":{"activeTargets":[` +
				`{"scrapePool":"` + tc.job + `","health":"down","lastError":"server returned HTTP status 503 Service Unavailable"},` +
				`{"scrapePool":"other","health":"down","lastError":"not this one"}]}}`
			err = check.Run(context.Background(), p, c)
			want := tc.check + ": Prometheus has read nothing from " + tc.job + " in the last " + tc.bound +
				"; its scrapes through the first master's apiserver fail: server returned HTTP status 503 Service Unavailable" +
				" (is it deployed and running? spire deploy " + tc.job + ")"
			if err == nil || err.Error() != want {
				t.Errorf("check %s = %v\nwant: %s", tc.check, err, want)
			}
		})
	}
}
