package keyserver_test

import (
	"crypto/rand"
	"crypto/x509"
	"flag"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
)

var serverCPUProfile = flag.String("server-cpuprofile", "", "BenchmarkIssuance: write the keyserver process's CPU profile to `file`.clients=N")

// BenchmarkIssuance measures certificate issuance over real mutual TLS with
// many concurrent clients, each on its own connection, as nodes renewing at
// once would. Run:
//
//	go test ./internal/keyserver -run '^$' -bench Issuance -benchtime 3s
//
// It reports grants/s and the p50/p99 latency of one grant, and what a
// grant costs the keyserver: server-cpu-us/cert is the CPU time (user and
// system) of the keyserver's process over the timed loop, divided by the
// grants. So that the clients' CPU time is not mixed in, the keyserver runs
// in a child process (keysystemtest's Options.Process: this test binary
// started again, see TestMain) and its time is read from /proc/PID/stat
// before and after the loop. That has a resolution of 10 ms, hence the
// longer -benchtime for a precise figure. Each client makes one grant
// before the loop, so the TLS handshakes are not counted: the figures are
// those of renewals on open connections.
//
// The baseline is measured in this process in the same run, just before
// and just after the loop (the mean of the two, as the load of a shared
// machine drifts), while the keyserver idles: raw-cpu-us/cert is signing the same certificate (the
// grant's template, the same CSR's key, the grant's CA) with
// x509.CreateCertificate alone, and x-raw the keyserver's cost as a
// multiple of it. csr+raw-cpu-us/cert adds parsing and checking the CSR's
// signature (pki.ParseCSR), which a keyserver must also do; x-csr+raw is
// the multiple of that.
//
// -server-cpuprofile FILE writes the keyserver's CPU profile, over its
// whole life, to FILE.clients=N (the last run of each client count).
func BenchmarkIssuance(b *testing.B) {
	for _, clients := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			proc := keysystemtest.Process{Enable: true}
			if *serverCPUProfile != "" {
				proc.CPUProfile = fmt.Sprintf("%s.clients=%d", *serverCPUProfile, clients)
			}
			c := keysystemtest.StartWith(b, keysystemtest.Options{Process: proc})
			nodes := []string{"master1", "master2", "master3", "worker1", "worker2"}
			cls := make([]*keyapi.Client, clients)
			for i := range cls {
				cls[i] = c.NodeClient(nodes[i%len(nodes)])
			}
			body := csrTB(b)
			// A few handshakes at a time: hundreds at once can take the
			// server past its wait for a new connection's HTTP/2 settings
			// on a busy machine.
			var wg sync.WaitGroup
			sem := make(chan struct{}, 8)
			for _, cl := range cls {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					if _, err := cl.Call1(ctx, "", keyapi.GrantKubeProxy, body); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
			if b.Failed() {
				return
			}
			rawBefore, csrRawBefore := rawSigning(b, c, body)
			var next atomic.Int64
			var mu sync.Mutex
			latencies := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			cpu0 := c.ServerCPU()
			start := time.Now()
			for _, cl := range cls {
				wg.Go(func() {
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
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			cpu := c.ServerCPU() - cpu0
			b.StopTimer()
			raw, csrRaw := rawSigning(b, c, body)
			raw, csrRaw = (raw+rawBefore)/2, (csrRaw+csrRawBefore)/2
			sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
			if n := len(latencies); n > 0 {
				perCert := cpu / time.Duration(n)
				b.ReportMetric(float64(n)/elapsed.Seconds(), "grants/s")
				b.ReportMetric(float64(latencies[n/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(latencies[n*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(us(perCert), "server-cpu-us/cert")
				b.ReportMetric(us(raw), "raw-cpu-us/cert")
				b.ReportMetric(us(csrRaw), "csr+raw-cpu-us/cert")
				b.ReportMetric(float64(perCert)/float64(raw), "x-raw")
				b.ReportMetric(float64(perCert)/float64(csrRaw), "x-csr+raw")
			}
		})
	}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// rawSigning is the CPU time per certificate of signing what the keyserver
// signs for csrPEM under the grant the benchmark calls, directly: with
// x509.CreateCertificate alone (raw), and after parsing and checking the
// CSR (csrRaw).
func rawSigning(b *testing.B, c *keysystemtest.Cluster, csrPEM string) (raw, csrRaw time.Duration) {
	b.Helper()
	pol, err := policy.Build(c.Config, nodeconf.ForCluster(c.Config), c.Lifetimes)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := c.Config.FindNode("master1")
	g := pol.Accounts[c.Config.FQDN(n)].Grants[keyapi.GrantKubeProxy]
	if g == nil || g.Privilege != policy.SignTLS {
		b.Fatalf("%s has no TLS grant %s", c.Config.FQDN(n), keyapi.GrantKubeProxy)
	}
	ca := c.Authority(g.Authority)
	csr, err := pki.ParseCSR([]byte(csrPEM))
	if err != nil {
		b.Fatal(err)
	}
	sign := func(csr *x509.CertificateRequest) {
		tmpl, err := pki.TLSTemplate(csr.PublicKey, g.TLS, time.Now())
		if err == nil {
			_, err = x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Signer)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	raw = cpuPerCall(b, func() { sign(csr) })
	csrRaw = cpuPerCall(b, func() {
		csr, err := pki.ParseCSR([]byte(csrPEM))
		if err != nil {
			b.Fatal(err)
		}
		sign(csr)
	})
	return raw, csrRaw
}

// cpuPerCall is this process's CPU time per call of f, over calls taking
// at least 200 ms of it.
func cpuPerCall(b *testing.B, f func()) time.Duration {
	const budget = 200 * time.Millisecond
	start := processCPU(b)
	for n := 1; ; n++ {
		f()
		if n%16 == 0 {
			if used := processCPU(b) - start; used >= budget {
				return used / time.Duration(n)
			}
		}
	}
}

// processCPU is the CPU time, user and system, this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
