package launch

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/certfile"
)

// apiClient names the files a component authenticates to the API with.
type apiClient struct{ Cert, Key, CA string }

// waitForAPI blocks until the API server answers GET /version to the
// component's own certificate, which is the first thing kube-state-metrics
// asks; it exits at once when that fails. An open port is not enough: a
// starting apiserver accepts connections seconds before it serves, and
// every early exit cost a restart 5 s later (2-3 on each new virtual
// cluster). On a supervisor set up before its masters (the original's
// order: seq supervisor, then the nodes) it waits as long as they take,
// keeping its unit active and quiet. The certificate is read again on each
// try, so one the keyclient renews meanwhile is used. It tells log each
// new reason it waits for.
func waitForAPI(server string, c apiClient, every time.Duration, log io.Writer) error {
	url := strings.TrimSuffix(server, "/") + "/version"
	said := ""
	for {
		why := ""
		client, err := c.httpClient()
		if err != nil {
			why = err.Error()
		} else {
			why = versionAnswer(client, url)
			client.CloseIdleConnections()
		}
		if why == "" {
			if said != "" {
				fmt.Fprintf(log, "kube-launch: the Kubernetes API at %s answers\n", server)
			}
			return nil
		}
		if why != said {
			fmt.Fprintf(log, "kube-launch: waiting for the Kubernetes API at %s to answer GET /version (%s)\n", server, why)
			said = why
		}
		time.Sleep(every)
	}
}

// versionAnswer is empty when url answers 200, else why not.
func versionAnswer(client *http.Client, url string) string {
	resp, err := client.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return ""
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	return fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
}

func (c apiClient) httpClient() (*http.Client, error) {
	pair, err := tls.LoadX509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, fmt.Errorf("the API client certificate: %w", err)
	}
	roots, err := certfile.Pool(c.CA)
	if err != nil {
		return nil, fmt.Errorf("the Kubernetes CA: %w", err)
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
	}}, nil
}

// apiClient is the files node n's component authenticates to the API
// with, under the name of its certificate.
func (n *Node) apiClient(certName string) apiClient {
	return apiClient{Cert: n.Layout.Path(cert(certName)), Key: n.Layout.Path(key(certName)), CA: n.Layout.Path(kubeCA)}
}
