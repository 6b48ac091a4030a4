// Package services is the service map: one table saying which services each
// node kind runs, how each starts (binary and arguments built from the
// node's configuration), what it waits for, how its readiness is checked and
// how systemd should confine it. systemd units for real hosts, the virtual
// cluster's node supervisor and the verify checks are all derived from it;
// a new service is added here and nowhere else.
package services

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/keyapi"
)

// Ports of node services.
const (
	KeyclientPort      = 9108 // keyclient /readyz and /metrics
	NodeSupervisorPort = 9107 // virtual node supervisor /status and /metrics
)

// Host is one node as its services see it.
type Host struct {
	Cluster *config.Config
	Node    config.Node
	BinDir  string // where Homeworld's binaries are installed
}

// Bin is the path of a Homeworld binary.
func (h Host) Bin(name string) string { return filepath.Join(h.BinDir, name) }

// addr joins the node's address with a port.
func (h Host) addr(port int) string { return net.JoinHostPort(h.Node.IP, strconv.Itoa(port)) }

// Check is how a service's readiness is observed.
type Check struct {
	// URL answers 200 when the service is ready. https URLs are checked
	// without verifying the certificate: this probes liveness, not trust.
	URL string
}

// Sandbox lists what systemd allows a service beyond a locked-down default.
type Sandbox struct {
	ReadWritePaths []string
	// Capabilities the service keeps; empty means none.
	Capabilities []string
}

// Service is one entry of the map.
type Service struct {
	Name        string
	Description string
	Kinds       []config.Kind
	// After lists services (on the same node) that must be ready before
	// this one starts; entries absent on the node's kind are ignored.
	After      []string
	Command    func(h Host) []string // full argv
	Ready      func(h Host) Check
	RestartSec time.Duration
	Sandbox    Sandbox
}

// Map is the service map, in start order.
var Map = []Service{
	{
		Name:        "keyserver",
		Description: "Homeworld keyserver (issues the cluster's credentials)",
		Kinds:       []config.Kind{config.KindSupervisor},
		Command: func(h Host) []string {
			return []string{h.Bin("keyserver"), "--root", "/", "--listen", h.addr(keyapi.Port)}
		},
		Ready: func(h Host) Check {
			return Check{URL: "https://" + h.addr(keyapi.Port) + keyapi.PathHealthz}
		},
		RestartSec: 5 * time.Second,
		Sandbox:    Sandbox{ReadWritePaths: []string{"/var/lib/homeworld/keyserver", "/var/log/homeworld"}},
	},
	{
		Name:        "keyclient",
		Description: "Homeworld keyclient (obtains and renews this node's credentials)",
		Kinds:       []config.Kind{config.KindSupervisor, config.KindMaster, config.KindWorker},
		After:       []string{"keyserver"},
		Command: func(h Host) []string {
			return []string{h.Bin("keyclient"), "--root", "/", "--metrics-listen", h.addr(KeyclientPort)}
		},
		Ready: func(h Host) Check {
			return Check{URL: "http://" + h.addr(KeyclientPort) + "/readyz"}
		},
		RestartSec: 10 * time.Second,
		Sandbox:    Sandbox{ReadWritePaths: []string{"/etc/homeworld", "/etc/ssh", "/var/lib/homeworld"}},
	},
}

// For returns the services a node runs, in dependency order.
func For(k config.Kind) []Service {
	var out []Service
	for _, s := range Map {
		if slices.Contains(s.Kinds, k) {
			out = append(out, s)
		}
	}
	return out
}

// Deps returns the dependencies of s that run on nodes of kind k.
func Deps(s Service, k config.Kind) []string {
	var out []string
	for _, d := range s.After {
		for _, o := range For(k) {
			if o.Name == d {
				out = append(out, d)
			}
		}
	}
	return out
}

// Validate checks the map itself: known kinds, dependencies that exist and
// come earlier (so start order is the table order), unique names.
func Validate() error {
	seen := map[string]bool{}
	for _, s := range Map {
		if seen[s.Name] {
			return fmt.Errorf("service %s listed twice", s.Name)
		}
		if len(s.Kinds) == 0 || s.Command == nil || s.Ready == nil {
			return fmt.Errorf("service %s needs kinds, a command and a readiness check", s.Name)
		}
		for _, d := range s.After {
			if !seen[d] {
				return fmt.Errorf("service %s depends on %s, which is not listed before it", s.Name, d)
			}
		}
		seen[s.Name] = true
	}
	return nil
}
