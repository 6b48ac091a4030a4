package hostsetup

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/pki"
)

// node is the production layout: a real host's root is /.
var node = layout.Node{Root: "/"}

// KeyserverFiles are what the supervisor's keyserver reads: setup.yaml and
// the authorities, unsealed (the one place their private keys are in
// clear).
func KeyserverFiles(setupYAML []byte, auths *authority.Set) ([]File, error) {
	unsealed, err := auths.UnsealedFiles()
	if err != nil {
		return nil, err
	}
	files := []File{{Path: node.SetupYAML(), Data: setupYAML, Mode: 0o644}}
	for _, f := range unsealed {
		files = append(files, File{Path: path.Join(node.KeyserverAuthorities(), f.Name), Data: f.Data, Mode: f.Mode})
	}
	return files, nil
}

// SetupKeyserver installs the keyserver's files on the supervisor, enables
// its unit and (re)starts it when a file changed, then waits until systemd
// reports it active: the keyserver notifies once it serves.
func SetupKeyserver(ctx context.Context, h Host, setupYAML []byte, auths *authority.Set) (changed bool, err error) {
	files, err := KeyserverFiles(setupYAML, auths)
	if err != nil {
		return false, err
	}
	// Only root may enter the folder of the authorities' private keys.
	if _, err := h.Run(ctx, command("install", "-d", "-m", "0700", node.KeyserverAuthorities()), nil); err != nil {
		return false, err
	}
	if changed, err = Put(ctx, h, files); err != nil {
		return changed, err
	}
	var restart []string
	if changed {
		restart = []string{"keyserver.service"}
	}
	if err := Enable(ctx, h, []string{"keyserver.service"}, nil, restart); err != nil {
		return changed, err
	}
	return changed, WaitActive(ctx, h, []string{"keyserver.service"}, nil)
}

// TrustFiles let a node's keyclient find and trust the keyserver: the
// supervisor's name and the cluster CA.
func TrustFiles(cfg *config.Config, clusterCA *x509.Certificate) []File {
	return []File{
		{Path: node.KeyserverDomain(), Data: []byte(cfg.FQDN(cfg.Supervisor())), Mode: 0o644},
		{Path: node.KeyserverCA(), Data: pki.EncodeCert(clusterCA), Mode: 0o644},
	}
}

// Admitted reports whether the host's keyclient holds its identity.
func Admitted(ctx context.Context, h Host) (bool, error) {
	_, err := h.ReadFile(ctx, node.GrantingCert())
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Admit admits a host as node n of cluster c, as the installer does: the
// keyserver's name and CA, then (unless the node already holds its
// identity) a one-time token from token, and the node's units enabled and
// started. The keyclient redeems the token from the node's own address;
// every other unit starts once the credentials it reads are there. It
// waits until every unit is active.
func Admit(ctx context.Context, h Host, c *config.Config, n config.Node, trust []File, token func(context.Context) (string, error), progress func(string)) error {
	changed, err := Put(ctx, h, trust)
	if err != nil {
		return err
	}
	admitted, err := Admitted(ctx, h)
	if err != nil {
		return err
	}
	var restart []string
	if !admitted {
		tok, err := token(ctx)
		if err != nil {
			return fmt.Errorf("getting an admission token: %w", err)
		}
		if _, err := h.WriteFile(ctx, node.BootstrapToken(), []byte(tok+"\n"), 0o600); err != nil {
			return err
		}
		restart = append(restart, "keyclient.service")
		if progress != nil {
			progress("token installed; the keyclient redeems it")
		}
	} else if changed {
		restart = append(restart, "keyclient.service")
	}
	units, displaced := Units(c, n)
	if err := Enable(ctx, h, units, displaced, restart); err != nil {
		return err
	}
	if err := WaitActive(ctx, h, units, progress); err != nil {
		return err
	}
	return nil
}
