package flannelmonitor

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
)

// Pong is the answer to a ping.
const Pong = "PONG"

// Reflector is the part of a monitor that other monitors ping (the
// original's reflector pod): it answers GET /ping with PONG and everything
// else with 404.
func Reflector() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/ping" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, Pong)
	})
}

// CheckPodAddress holds a monitor to the pod network: the address
// Kubernetes gives its pod must lie inside network and be the one address
// of the pod's interfaces (addrs) that does. Otherwise pings of it would
// not test flannel.
func CheckPodAddress(podIP string, network netip.Prefix, addrs []net.Addr) error {
	ip, err := netip.ParseAddr(podIP)
	if err != nil {
		return fmt.Errorf("the pod's address %q: %w", podIP, err)
	}
	if !network.Contains(ip) {
		return fmt.Errorf("the pod's address %s is outside the pod network %s", ip, network)
	}
	var inside []netip.Addr
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		if network.Contains(p.Addr()) {
			inside = append(inside, p.Addr())
		}
	}
	if len(inside) != 1 || inside[0] != ip {
		return fmt.Errorf("the pod's interfaces have %v inside %s, want exactly its address %s", inside, network, ip)
	}
	return nil
}
