// Package kubeconfig renders the kubeconfig files Homeworld writes: for
// Kubernetes components on nodes (kube-launch) and for admins (spire),
// which name certificate files rather than embedding keys, and for users
// (user-grant), which carry their credentials inline because the file is
// all they download.
package kubeconfig

import (
	"encoding/base64"

	"go.yaml.in/yaml/v3"
)

// Files are what a kubeconfig refers to.
type Files struct {
	Server, CA, Cert, Key string
}

// Render makes a kubeconfig for one cluster and user, referring to the
// certificate files rather than embedding the private key.
func Render(cluster, user string, f Files) ([]byte, error) {
	return render(cluster, user,
		map[string]any{"server": f.Server, "certificate-authority": f.CA},
		map[string]any{"client-certificate": f.Cert, "client-key": f.Key},
		map[string]any{"cluster": cluster, "user": user})
}

// Inline is a kubeconfig's content when it carries its credentials.
type Inline struct {
	Server    string
	CA        []byte // PEM certificates the server's must chain to
	Cert, Key []byte // PEM client certificate and private key
	Namespace string // the context's default namespace; empty for none
}

// RenderInline makes a kubeconfig for one cluster and user with the CA,
// certificate and key embedded (the *-data fields, which kubectl decodes
// from base64; YAML's encoder writes []byte as base64, but as a !!binary
// tag kubectl does not read, so they are encoded here).
func RenderInline(cluster, user string, in Inline) ([]byte, error) {
	ctx := map[string]any{"cluster": cluster, "user": user}
	if in.Namespace != "" {
		ctx["namespace"] = in.Namespace
	}
	return render(cluster, user,
		map[string]any{"server": in.Server, "certificate-authority-data": b64(in.CA)},
		map[string]any{"client-certificate-data": b64(in.Cert), "client-key-data": b64(in.Key)},
		ctx)
}

func render(cluster, user string, clusterEntry, userEntry, contextEntry map[string]any) ([]byte, error) {
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
		Clusters:       []named{{Name: cluster, Cluster: clusterEntry}},
		Users:          []named{{Name: user, User: userEntry}},
		Contexts:       []named{{Name: cluster, Context: contextEntry}},
		CurrentContext: cluster,
	}
	return yaml.Marshal(doc)
}

func b64(data []byte) string { return base64.StdEncoding.EncodeToString(data) }
