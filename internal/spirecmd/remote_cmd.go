package spirecmd

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh/knownhosts"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/remote"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/virt"
)

// foreachCommand is `spire foreach KIND -- COMMAND`.
func (a *app) foreachCommand() *cobra.Command {
	var hf hostFlags
	c := &cobra.Command{
		Use:   "foreach node|kube|supervisor|master|worker -- COMMAND...",
		Short: "Run a shell command as root on every node of a kind, one after another",
		Long: `Run COMMAND over SSH on each matching node in setup.yaml's order: node is
every node, kube every master and worker, or one kind. Each node's output is
printed under its name. Every node is tried; spire fails if any did.` + sshHelp,
		Example: `  spire foreach kube -- systemctl is-active kubelet.service
  spire foreach node -- df -h /`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			var kinds []config.Kind
			switch args[0] {
			case "node":
				kinds = config.Kinds
			case "kube":
				kinds = []config.Kind{config.KindMaster, config.KindWorker}
			default:
				k := config.Kind(args[0])
				if !slices.Contains(config.Kinds, k) {
					return fmt.Errorf("unknown node kind %q: want node, kube, supervisor, master or worker", args[0])
				}
				kinds = []config.Kind{k}
			}
			nodes, _ := nodesOf(cfg, nil, kinds...)
			hs, err := a.connectHosts(ws, cfg, &hf)
			if err != nil {
				return err
			}
			defer hs.Close()
			line := strings.Join(args[1:], " ")
			var failed []string
			for _, n := range nodes {
				fmt.Fprintf(a.Stdout, "== %s (%s)\n", n.Hostname, n.Kind)
				c, err := hs.dial(cmd.Context(), n)
				if err == nil {
					err = c.Stream(cmd.Context(), line, a.Stdout, a.Stderr)
				}
				if err != nil {
					fmt.Fprintf(a.Stderr, "%s: %v\n", n.Hostname, err)
					failed = append(failed, n.Hostname)
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("failed on %s", strings.Join(failed, ", "))
			}
			return nil
		},
	}
	hf.register(c)
	return c
}

// queryCommand is `spire query keyurl PATH`.
func (a *app) queryCommand() *cobra.Command {
	keyurl := &cobra.Command{
		Use:   "keyurl PATH",
		Short: "Fetch a public path from the keyserver (e.g. /v1/static/cluster.conf)",
		Long: `GET https://SUPERVISOR:` + services.KeyserverAPI.PortString() + `/PATH from the keyserver, trusting only the
cluster CA and checking the supervisor's name, and print the body. The
keyserver's public paths are its health, its static files and the
authorities' public halves.`,
		Example: `  spire query keyurl /v1/static/cluster.conf
  spire query keyurl /v1/pub/ssh-host`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			if err := virt.CheckReachable(ws.Dir, cfg, ""); err != nil {
				return err
			}
			body, err := queryKeyURL(cmd.Context(), ws.Dir, cfg, args[0])
			if err != nil {
				return err
			}
			_, err = a.Stdout.Write(body)
			return err
		},
	}
	return group("query", "Ask the cluster's services for public information", keyurl)
}

// queryKeyURL fetches path from the keyserver over TLS.
func queryKeyURL(ctx context.Context, workspace string, cfg *config.Config, path string) ([]byte, error) {
	set, err := authority.NewStore(workspace).LoadPublic()
	if err != nil {
		return nil, err
	}
	ca, err := set.Get(keyapi.ClusterCA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	sup := cfg.Supervisor()
	client, err := keyapi.NewClient(keyapi.ClientConfig{Address: services.KeyserverAPI.Addr(sup.IP), ServerName: cfg.FQDN(sup), RootCAs: pool, Timeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	path = "/" + strings.TrimPrefix(path, "/")
	body, err := client.Get(ctx, path)
	var refused *keyapi.Error
	switch {
	case errors.As(err, &refused) && refused.Status == http.StatusNotFound:
		return nil, fmt.Errorf("%s: path not found", path)
	case errors.As(err, &refused) && (refused.Status == http.StatusBadRequest || refused.Status == http.StatusForbidden):
		return nil, fmt.Errorf("%s: %w (possibly an auth error)", path, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return body, nil
}

// pullSupervisorKeyCommand is `spire access pull-supervisor-key FILE`.
func (a *app) pullSupervisorKeyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "pull-supervisor-key FILE",
		Short: "Pin the supervisor's SSH host key, checked against fingerprints you trust",
		Long: `Ask the supervisor which host keys it offers and pin, in the workspace's
known_hosts, those whose SHA256 fingerprint FILE lists (lines as ssh-keygen -l
prints them, or HOST SHA256:... lines; the installer shows them on the
console, and spire virt up --hosts systemd writes them to virt/host-keys).
Earlier pins of the supervisor are replaced. A key FILE does not list is
refused: the host is not the one you installed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			if err := virt.CheckReachable(ws.Dir, cfg, ""); err != nil {
				return err
			}
			fps, err := readFingerprints(args[0], cfg)
			if err != nil {
				return err
			}
			sup := cfg.Supervisor()
			want := fps[cfg.FQDN(sup)]
			if len(want) == 0 {
				return fmt.Errorf("%s lists no fingerprint for the supervisor %s", args[0], sup.Hostname)
			}
			h := remote.Host{Name: cfg.FQDN(sup), Addr: services.SSH.Addr(sup.IP)}
			pinned, err := pinHostKeys(cmd.Context(), h, knownHostsPath(ws), want)
			if err != nil {
				return err
			}
			for _, fp := range pinned {
				fmt.Fprintf(a.Stdout, "pinned %s for %s in %s\n", fp, sup.Hostname, knownHostsPath(ws))
			}
			return nil
		},
	}
}

// pinHostKeys asks h for its host keys and pins those whose fingerprint is
// in want as h's only plain keys in the known_hosts file at path.
func pinHostKeys(ctx context.Context, h remote.Host, path string, want []string) ([]string, error) {
	keys, err := remote.ScanHostKeys(ctx, h, 0)
	if err != nil {
		return nil, err
	}
	var lines, pinned, offered []string
	for _, k := range keys {
		fp := remote.Fingerprint(k)
		offered = append(offered, fp)
		if slices.Contains(want, fp) {
			lines = append(lines, knownhosts.Line([]string{h.Name}, k))
			pinned = append(pinned, fp)
		}
	}
	if len(pinned) == 0 {
		return nil, fmt.Errorf("%s offers %s, none of which the file lists: this is not the host you installed (or the list is another's)", h, strings.Join(offered, ", "))
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var kept []string
	for _, line := range strings.Split(string(old), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || (fields[0] != "@cert-authority" && slices.Contains(strings.Split(fields[0], ","), h.Name)) {
			continue // an earlier pin of this host
		}
		kept = append(kept, line)
	}
	data := strings.Join(append(kept, lines...), "\n") + "\n"
	return pinned, renameio.WriteFile(path, []byte(data), 0o644)
}
