package keyserver_test

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/policy"
)

// BenchmarkIssuance measures certificate issuance over real mutual TLS with
// many concurrent clients, each on its own connection, as nodes renewing at
// once would. Run: go test ./internal/keyserver -run '^$' -bench Issuance
// It reports grants/s and the p50/p99 latency of one grant.
func BenchmarkIssuance(b *testing.B) {
	for _, clients := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			c := keysystemtest.Start(b, policy.Lifetimes{})
			nodes := []string{"master1", "master2", "master3", "worker1", "worker2"}
			cls := make([]*keyapi.Client, clients)
			for i := range cls {
				cls[i] = c.NodeClient(nodes[i%len(nodes)])
			}
			body := csrTB(b)
			var next atomic.Int64
			var mu sync.Mutex
			latencies := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for _, cl := range cls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						if _, err := cl.Call1(ctx, "", keyapi.GrantKubeProxy, body); err != nil {
							b.Error(err)
							return
						}
						d := time.Since(t0)
						mu.Lock()
						latencies = append(latencies, d)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
			if n := len(latencies); n > 0 {
				b.ReportMetric(float64(n)/elapsed.Seconds(), "grants/s")
				b.ReportMetric(float64(latencies[n/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(latencies[n*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}
