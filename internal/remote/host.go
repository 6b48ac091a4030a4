package remote

import (
	"net"
	"strings"

	"homeworld.dev/homeworld/internal/services"
)

// Host is one machine spire drives.
type Host struct {
	// Name is the host's name, used in every message and matched against
	// known_hosts lines and host certificate principals. Give the name the
	// host's certificate holds (spire's nodes: the FQDN) for an
	// "@cert-authority *.domain" line to match. Empty: the address's host.
	Name string
	// Addr is where its sshd listens, "ip:port"; ":22" may be left off.
	Addr string
}

// String is how messages name the host: "supervisor (10.213.0.2:22)".
func (h Host) String() string {
	if h.Name == "" || h.Name == h.addrHost() {
		return h.addr()
	}
	return h.Name + " (" + h.addr() + ")"
}

// addr is Addr with the default port added when it has none.
func (h Host) addr() string {
	if _, _, err := net.SplitHostPort(h.Addr); err == nil {
		return h.Addr
	}
	return net.JoinHostPort(strings.Trim(h.Addr, "[]"), services.SSH.PortString())
}

func (h Host) addrHost() string {
	host, _, _ := net.SplitHostPort(h.addr())
	return host
}

func (h Host) port() string {
	_, port, _ := net.SplitHostPort(h.addr())
	return port
}

// keyName is the name host keys are checked and recorded under, with the
// port: known_hosts writes a port other than 22 as "[name]:port".
func (h Host) keyName() string {
	name := h.Name
	if name == "" {
		name = h.addrHost()
	}
	return net.JoinHostPort(name, h.port())
}
