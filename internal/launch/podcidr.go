package launch

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

// podCIDRWait bounds how long flannel's launch waits for its node's pod
// range before starting flanneld anyway, which then says what is missing
// and is restarted.
const podCIDRWait = 2 * time.Minute

// podCIDRPoll is how often the launch asks. A GET of one node is served
// from the API server's cache; asking four times a second for the few
// seconds the range takes starts flannel, and with it the node's pods,
// sooner than asking once a second.
const podCIDRPoll = 250 * time.Millisecond

// waitForPodCIDR blocks until the API server shows the node with a pod
// range. flanneld exits at once when the API does not answer, refuses it
// (the setup queue has not applied flannel's RBAC yet) or the controller
// manager has not given the node its range; restarted with a growing
// backoff, it came up several seconds after the range existed. Asking
// every podCIDRPoll, with flannel's own certificate, starts it right after
// the range exists.
func waitForPodCIDR(n *Node, certName string) error {
	client, err := n.apiClient(certName).httpClient()
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	u := n.apiServerURL() + "/api/v1/nodes/" + url.PathEscape(n.Local.Hostname)
	awaitPodCIDR(client, u, n.Local.Hostname, podCIDRPoll, podCIDRWait, os.Stderr)
	return nil
}

// awaitPodCIDR asks u for the node every poll until it has a pod range or
// wait has passed, saying on w why it waits whenever the reason changes.
func awaitPodCIDR(client *http.Client, u, node string, poll, wait time.Duration, w io.Writer) (cidr string) {
	deadline := time.Now().Add(wait)
	last := ""
	for {
		cidr, why := nodePodCIDR(client, u)
		if cidr != "" {
			if last != "" {
				fmt.Fprintf(w, "kube-launch: node %s has pod range %s\n", node, cidr)
			}
			return cidr
		}
		if why != last {
			fmt.Fprintf(w, "kube-launch: waiting for node %s's pod range: %s\n", node, why)
			last = why
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(w, "kube-launch: no pod range after %v; starting anyway\n", wait)
			return ""
		}
		time.Sleep(poll)
	}
}

// nodePodCIDR is the node's pod range, or why there is none yet.
func nodePodCIDR(client *http.Client, u string) (cidr, why string) {
	resp, err := client.Get(u)
	if err != nil {
		return "", "the API server does not answer"
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return "", "the node is not registered yet (its kubelet registers it)"
	case http.StatusForbidden:
		return "", "the API server refuses flannel (its RBAC comes from the setup queue)"
	default:
		return "", fmt.Sprintf("the API server answers %s", resp.Status)
	}
	var node struct {
		Spec struct {
			PodCIDR string `json:"podCIDR"`
		} `json:"spec"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&node); err != nil {
		return "", fmt.Sprintf("reading the node: %v", err)
	}
	if node.Spec.PodCIDR == "" {
		return "", "no pod range yet (the controller manager allocates it)"
	}
	return node.Spec.PodCIDR, ""
}
