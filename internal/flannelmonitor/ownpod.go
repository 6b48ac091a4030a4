package flannelmonitor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"homeworld.dev/homeworld/internal/incluster"
)

// ownPod connects to the API as the pod's service account and reads the
// pod itself, named by the downward API.
func ownPod(ctx context.Context) (*incluster.Client, incluster.Pod, error) {
	name, ns := os.Getenv("POD_NAME"), os.Getenv("POD_NAMESPACE")
	if name == "" || ns == "" {
		return nil, incluster.Pod{}, errors.New("POD_NAME and POD_NAMESPACE must name this pod (the downward API)")
	}
	api, err := incluster.FromEnvironment(incluster.ServiceAccountDir)
	if err != nil {
		return nil, incluster.Pod{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	self, err := api.GetPod(ctx, ns, name)
	if err != nil {
		return nil, incluster.Pod{}, fmt.Errorf("reading this pod: %w", err)
	}
	return api, self, nil
}

// addressWait bounds the wait for Kubernetes to report the pod's addresses.
// The kubelet posts them moments after it starts the container, so a
// monitor that read its pod at once often saw none, exited and was
// restarted (once on most nodes of every new cluster).
const addressWait = 2 * time.Minute

// addressPoll is how often the pod is read again meanwhile.
const addressPoll = 250 * time.Millisecond

// awaitAddresses reads self again until its status has both the pod's and
// the node's address, for at most wait.
func awaitAddresses(ctx context.Context, api *incluster.Client, self incluster.Pod, poll, wait time.Duration, logf func(string, ...any)) (incluster.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	logged := false
	var lastErr error
	for self.PodIP == "" || self.HostIP == "" {
		if !logged {
			logf("waiting for Kubernetes to report pod %s/%s's addresses (status.podIP %q, status.hostIP %q)", self.Namespace, self.Name, self.PodIP, self.HostIP)
			logged = true
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("pod %s/%s: Kubernetes reported no pod address or no host address in %v (status.podIP %q, status.hostIP %q)", self.Namespace, self.Name, wait, self.PodIP, self.HostIP)
			if lastErr != nil {
				return self, fmt.Errorf("%s; last read: %w", msg, lastErr)
			}
			return self, errors.New(msg)
		case <-time.After(poll):
		}
		p, err := api.GetPod(ctx, self.Namespace, self.Name)
		if err != nil {
			lastErr = err
			continue
		}
		self, lastErr = p, nil
	}
	return self, nil
}
