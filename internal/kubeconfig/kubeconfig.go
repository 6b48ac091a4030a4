// Package kubeconfig renders the kubeconfig files Homeworld writes: for
// Kubernetes components on nodes (kube-launch) and for admins (spire). They
// name certificate files rather than embedding keys.
package kubeconfig

import (
	"go.yaml.in/yaml/v3"
)

// Files are what a kubeconfig refers to.
type Files struct {
	Server, CA, Cert, Key string
}

// Render makes a kubeconfig for one cluster and user, referring to the
// certificate files rather than embedding the private key.
func Render(cluster, user string, f Files) ([]byte, error) {
	type named struct {
		Name    string         `yaml:"name"`
		Cluster map[string]any `yaml:"cluster,omitempty"`
		User    map[string]any `yaml:"user,omitempty"`
		Context map[string]any `yaml:"context,omitempty"`
	}
	doc := struct {
		APIVersion     string  `yaml:"apiVersion"`
		Kind           string  `yaml:"kind"`
		Clusters       []named `yaml:"clusters"`
		Users          []named `yaml:"users"`
		Contexts       []named `yaml:"contexts"`
		CurrentContext string  `yaml:"current-context"`
	}{
		APIVersion:     "v1",
		Kind:           "Config",
		Clusters:       []named{{Name: cluster, Cluster: map[string]any{"server": f.Server, "certificate-authority": f.CA}}},
		Users:          []named{{Name: user, User: map[string]any{"client-certificate": f.Cert, "client-key": f.Key}}},
		Contexts:       []named{{Name: cluster, Context: map[string]any{"cluster": cluster, "user": user}}},
		CurrentContext: cluster,
	}
	return yaml.Marshal(doc)
}
