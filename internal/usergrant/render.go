package usergrant

import (
	"fmt"
	"time"

	"homeworld.dev/homeworld/internal/kubeconfig"
)

// ClusterName is the cluster and context name in users' kubeconfigs.
const ClusterName = "homeworld"

// renderKubeconfig is the file a user downloads: their credential inline,
// their namespace as the default, and a header that says what to do with
// it.
func renderKubeconfig(principal, user, server string, caPEM []byte, cred *userCredential, fetchURL string) ([]byte, error) {
	body, err := kubeconfig.RenderInline(ClusterName, KubeUser(user), kubeconfig.Inline{
		Server: server, CA: caPEM, Cert: cred.CertPEM, Key: cred.KeyPEM, Namespace: Namespace(user),
	})
	if err != nil {
		return nil, err
	}
	header := fmt.Sprintf(`# Kubernetes credentials of %s: user %s, administrator of
# the namespace %s, at the cluster's API %s.
#
# Save this file as ~/.kube/config, where kubectl looks for it.
# Keep it secret: it holds your private key, and whoever has it acts as you.
# Valid until %s. Then get a new one:
#   curl --negotiate -u : %s > ~/.kube/config
`, principal, KubeUser(user), Namespace(user), server, cred.Cert.NotAfter.UTC().Format(time.RFC1123), fetchURL)
	return append([]byte(header), body...), nil
}
