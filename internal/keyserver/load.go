package keyserver

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/token"
)

// Load assembles a keyserver from a supervisor's files: setup.yaml, the
// virtual-cluster marker, the unsealed authorities, the token store, the
// deny list and the audit log. They fill in opts; the caller sets the rest
// (Logf, Now), and Now is the clock of the token store and the audit log
// too.
func Load(node layout.Node, lifetimes policy.Lifetimes, opts Options) (*Server, *config.Config, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	logf := opts.Logf
	if logf == nil {
		logf = log.Printf
	}
	cfg, warnings, err := config.Load(node.SetupYAML())
	if err != nil {
		return nil, nil, err
	}
	for _, w := range warnings {
		logf("warning: %s", w)
	}
	cluster := nodeconf.ForCluster(cfg)
	// Whether the nodes are a virtual cluster is not in setup.yaml (the same
	// file describes real hosts); spire virt up says so by installing this
	// file beside the authorities, and cluster.conf's VIRTUAL passes it on
	// to every node. A flag would need the service map to start the
	// keyserver differently in the virtual cluster, which it avoids.
	if _, err := os.Stat(node.KeyserverVirtual()); err == nil {
		cluster.Virtual = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	pol, err := policy.Build(cfg, cluster, lifetimes)
	if err != nil {
		return nil, nil, err
	}
	auths, err := authority.LoadUnsealed(node.KeyserverAuthorities())
	if err != nil {
		return nil, nil, fmt.Errorf("loading authorities: %w (install them with `spire setup keyserver`)", err)
	}
	for _, dir := range []string{node.KeyserverState(), filepath.Dir(node.KeyserverAuditLog())} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, err
		}
	}
	tokens, err := token.Open(filepath.Join(node.KeyserverState(), "tokens.json"), opts.Now)
	if err != nil {
		return nil, nil, err
	}
	deny, err := OpenDenyList(filepath.Join(node.KeyserverState(), "deny.json"))
	if err != nil {
		return nil, nil, err
	}
	auditLog, err := audit.Open(node.KeyserverAuditLog(), opts.Now)
	if err != nil {
		return nil, nil, err
	}
	opts.Policy, opts.Authorities, opts.Tokens, opts.Audit, opts.Deny = pol, auths, tokens, auditLog, deny
	s, err := New(opts)
	if err != nil {
		auditLog.Close()
		return nil, nil, err
	}
	return s, cfg, nil
}
