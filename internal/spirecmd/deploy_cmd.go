package spirecmd

import (
	"crypto/x509"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/dnsaddon"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/kubeapply"
	"homeworld.dev/homeworld/internal/virt"
	"homeworld.dev/homeworld/internal/workspace"
)

func (a *app) deployCommand() *cobra.Command {
	var f keyserverFlags
	var binFlag string
	var export bool
	dnsCmd := &cobra.Command{
		Use:   "dns-addon",
		Short: "Deploy the cluster DNS (CoreDNS) into Kubernetes",
		Long: `Render the cluster DNS add-on from setup.yaml and apply it: CoreDNS, two
replicas spread over the nodes, the kube-dns Service at addresses.service-dns
(port 53), names of internal-domain and the reverse zones of the pod and
service ranges from Kubernetes, everything else forwarded to dns-upstreams.
A virtual cluster forwards to its own resolver on the host instead.

The objects are applied server-side as field manager "homeworld" with a
fresh admin certificate; running it again changes nothing. Each object is
reported as created, changed or unchanged. --export prints the objects
instead, and talks to nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			m, err := dnsManifest(ws, cfg)
			if err != nil {
				return err
			}
			if export {
				_, err := fmt.Fprint(a.Stdout, m)
				return err
			}
			bin, err := binDir(binFlag)
			if err != nil {
				return err
			}
			return a.withAuthority(&f, keyapi.Kubernetes, func(s *adminSession, ca *x509.Certificate) error {
				if _, err := s.admin.WriteKubeconfig(cmd.Context(), s.ws.Dir, ca); err != nil {
					return err
				}
				k := kubeapply.Kubectl{Path: filepath.Join(bin, "kubectl"), Kubeconfig: access.KubeconfigPath(s.ws.Dir)}
				results, err := kubeapply.Apply(cmd.Context(), k, m)
				for _, r := range results {
					fmt.Fprintln(a.Stdout, r)
				}
				return err
			})
		},
	}
	dnsCmd.Flags().StringVar(&binFlag, "bin-dir", "", "folder with the pinned kubectl (default: spire's own folder)")
	dnsCmd.Flags().BoolVar(&export, "export", false, "print the objects instead of applying them")
	c := group("deploy", "Deploy Homeworld's add-ons into the cluster's Kubernetes", dnsCmd)
	f.register(c)
	return c
}

// dnsManifest is the DNS add-on of the workspace's cluster; a virtual
// cluster's forwards to its resolver on the host, as virt up applies it.
func dnsManifest(ws *workspace.Workspace, cfg *config.Config) (string, error) {
	var o dnsaddon.Options
	if virt.IsVirtual(ws.Dir) {
		t, err := virt.NewTopology(ws.Dir, cfg)
		if err != nil {
			return "", err
		}
		o.Upstreams = virt.DNSUpstreams(t)
	}
	return dnsaddon.Manifest(cfg, o)
}
