package keygateway_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keygateway/gatewaytest"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/krb5test"
	"homeworld.dev/homeworld/internal/pki"
)

// admins is how many root admins ask at once.
const admins = 64

// BenchmarkGatewayGrants: 64 root admins, each with their own ticket and
// connection, ask the gateway for SSH certificates at once. Each grant is
// a fresh authenticator checked against the keytab (and the replay
// cache), then impersonation and signing at the keyserver over TLS.
// Reports grants/s and the p50 and p99 latency of one grant.
//
//	go test -run XXX -bench GatewayGrants ./internal/keygateway
func BenchmarkGatewayGrants(b *testing.B) {
	kdc := krb5test.Start(b, krb5test.Options{})
	var names []string
	for i := range admins {
		names = append(names, fmt.Sprintf("admin%02d", i))
	}
	setup := strings.Replace(keysystemtest.KerberosSetup, "root-admins: [admin]", "root-admins: ["+strings.Join(names, ", ")+"]", 1)
	ks := keysystemtest.StartWith(b, keysystemtest.Options{Setup: setup})
	gw := gatewaytest.Start(b, ks, kdc)
	clients := make(chan *access.Admin, admins)
	for _, name := range names {
		kdc.AddPrincipal(b, name, password)
		kc := (&rig{kdc: kdc, ks: ks, gw: gw}).client(b, kdc.Kinit(b, name, password))
		a, err := access.ConnectGateway(ks.Config, ks.Authority(keyapi.ClusterCA).Cert, kc, access.Options{Gateway: gw.Addr})
		if err != nil {
			b.Fatal(err)
		}
		defer a.Close()
		clients <- a
	}
	key, err := pki.NewSSHKey()
	if err != nil {
		b.Fatal(err)
	}
	pub, _ := ssh.NewPublicKey(key.Public())
	line := ssh.MarshalAuthorizedKey(pub)

	var mu sync.Mutex
	var latencies []time.Duration
	b.SetParallelism((admins + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		a := <-clients
		defer func() { clients <- a }()
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if _, err := a.SSHCert(context.Background(), line); err != nil {
				b.Error(err)
				continue
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "grants/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
