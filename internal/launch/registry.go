package launch

import (
	"fmt"

	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/services"
)

// The supervisor's registry storage and configuration.
const (
	RegistryStorage = layout.StateDir + "/registry"
	registryConfig  = layout.ConfigDir + "/registry.yaml"
)

// registry runs the pinned distribution registry on loopback: plain HTTP,
// no authentication of its own, since only registry-front (TLS, and the
// check that only administrators push) reaches it. Relative URLs keep the
// upload locations it hands out valid behind the front.
func registry(n *Node) (*Launch, error) {
	return &Launch{
		Files: map[string]string{registryConfig: RegistryConfig(RegistryStorage, services.RegistryBackend.Addr(n.ip()))},
		// Tracing is on by default in distribution 3 and would look for a
		// collector; the cluster has none.
		Env:  []string{"OTEL_TRACES_EXPORTER=none"},
		Argv: []string{n.bin("registry"), "serve", registryConfig},
	}, nil
}

// RegistryConfig is distribution's configuration: storage below dir, plain
// HTTP on addr.
func RegistryConfig(dir, addr string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: %s
  relativeurls: true
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`, dir, addr)
}
