// Package incluster is a small read-only client of the Kubernetes API for
// Homeworld's own pods: it authenticates with the pod's service account
// token and trusts the cluster CA that kubelet mounts, and lists the few
// objects the monitors need (nodes and pods). The main module does not
// depend on client-go; the monitors need three GETs. flannel-monitor
// imports it.
package incluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/certfile"
)

// ServiceAccountDir is where kubelet mounts a pod's service account token,
// CA and namespace.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// Client reads the API server at Base as the pod's service account.
type Client struct {
	Base      string // https://host:port
	TokenFile string // re-read on every request: kubelet rotates projected tokens
	HTTP      *http.Client
}

// FromEnvironment is the client a pod gets from its environment: the API
// server kubelet names in KUBERNETES_SERVICE_HOST and _PORT, the token and
// CA under dir (ServiceAccountDir in a pod).
func FromEnvironment(dir string) (*Client, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, errors.New("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not running in a pod?)")
	}
	pool, err := certfile.Pool(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	return New("https://"+net.JoinHostPort(host, port), filepath.Join(dir, "token"), pool), nil
}

// New is a client of the API server at base, trusting roots.
func New(base, tokenFile string, roots *x509.CertPool) *Client {
	return &Client{Base: strings.TrimSuffix(base, "/"), TokenFile: tokenFile, HTTP: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}},
	}}
}

// Get decodes the JSON object at path (with query) into v.
func (c *Client) Get(ctx context.Context, path string, query url.Values, v any) error {
	token, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return err
	}
	u := c.Base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The API's Status object says why (forbidden, not found).
		var st struct{ Message string }
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(body, &st) == nil && st.Message != "" {
			return fmt.Errorf("GET %s: %s: %s", path, resp.Status, st.Message)
		}
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Node is what the monitors read of a node.
type Node struct {
	Name string
	// InternalIPs are the node's addresses of type InternalIP.
	InternalIPs []string
}

// Pod is what the monitors read of a pod.
type Pod struct {
	Name, Namespace string
	Phase           string
	PodIP, HostIP   string
	NodeName        string
	Deleting        bool // deletionTimestamp is set
}

type objectMeta struct {
	Name              string  `json:"name"`
	Namespace         string  `json:"namespace"`
	DeletionTimestamp *string `json:"deletionTimestamp"`
}

type podJSON struct {
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		Phase  string `json:"phase"`
		PodIP  string `json:"podIP"`
		HostIP string `json:"hostIP"`
	} `json:"status"`
}

func (p podJSON) pod() Pod {
	return Pod{Name: p.Metadata.Name, Namespace: p.Metadata.Namespace, Phase: p.Status.Phase,
		PodIP: p.Status.PodIP, HostIP: p.Status.HostIP, NodeName: p.Spec.NodeName, Deleting: p.Metadata.DeletionTimestamp != nil}
}

// Nodes lists every node.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	var list struct {
		Items []struct {
			Metadata objectMeta `json:"metadata"`
			Status   struct {
				Addresses []struct{ Type, Address string } `json:"addresses"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := c.Get(ctx, "/api/v1/nodes", nil, &list); err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(list.Items))
	for _, it := range list.Items {
		n := Node{Name: it.Metadata.Name}
		for _, a := range it.Status.Addresses {
			if a.Type == "InternalIP" {
				n.InternalIPs = append(n.InternalIPs, a.Address)
			}
		}
		out = append(out, n)
	}
	return out, nil
}

// RunningPods lists the pods of namespace with label app=value that are
// in phase Running.
func (c *Client) RunningPods(ctx context.Context, namespace, app string) ([]Pod, error) {
	var list struct {
		Items []podJSON `json:"items"`
	}
	q := url.Values{"labelSelector": {"app=" + app}, "fieldSelector": {"status.phase=Running"}}
	if err := c.Get(ctx, "/api/v1/namespaces/"+url.PathEscape(namespace)+"/pods", q, &list); err != nil {
		return nil, err
	}
	out := make([]Pod, 0, len(list.Items))
	for _, it := range list.Items {
		// The field selector is the server's; an API server that ignored
		// it must not make a pending pod count.
		if p := it.pod(); p.Phase == "Running" {
			out = append(out, p)
		}
	}
	return out, nil
}

// GetPod reads one pod.
func (c *Client) GetPod(ctx context.Context, namespace, name string) (Pod, error) {
	var p podJSON
	err := c.Get(ctx, "/api/v1/namespaces/"+url.PathEscape(namespace)+"/pods/"+url.PathEscape(name), nil, &p)
	return p.pod(), err
}
