package virt

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/rbac"
)

// Kubeconfig is the admin kubeconfig up writes for itself (and tests).
func (t *Topology) Kubeconfig() string { return access.KubeconfigPath(t.adminDir()) }

func (t *Topology) adminDir() string { return filepath.Join(t.Dir, "admin") }

// kubeAdmin obtains a short-lived admin certificate from the keyserver and
// writes a kubeconfig for it, as spire access kubeconfig does.
func kubeAdmin(ctx context.Context, t *Topology, admin *access.Admin, o Options) error {
	ca, err := o.Authorities.Get(keyapi.Kubernetes)
	if err != nil {
		return err
	}
	_, err = admin.WriteKubeconfig(ctx, t.adminDir(), ca.Cert)
	return err
}

// kubectl runs the pinned kubectl as the admin, with a discovery cache of
// the cluster's own: the next cluster has the same addresses, and the
// operator's ~/.kube stays theirs.
func kubectl(ctx context.Context, t *Topology, binDir string, stdin io.Reader, args ...string) ([]byte, error) {
	flags := []string{"--kubeconfig", t.Kubeconfig(), "--request-timeout", "10s", "--cache-dir", filepath.Join(t.Dir, "kubectl-cache")}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "kubectl"), append(flags, args...)...)
	cmd.Stdin = stdin
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		err = fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
	}
	return out, err
}

// ControlPlaneLabel marks master nodes, as kubectl's ROLES column reads it.
const ControlPlaneLabel = "node-role.kubernetes.io/control-plane"

// startKubernetes waits for every apiserver and, once the images are in
// the registry (pushed), queues the add-ons; it waits until the setup queue
// has applied them and what was queued before (the RBAC), and until every
// Kubernetes node is Ready.
func startKubernetes(ctx context.Context, t *Topology, st *State, o Options, pushed <-chan error, queued []string, progress func(string, ...any)) error {
	for _, n := range t.Nodes {
		if n.Kind == config.KindMaster {
			if err := waitReady(ctx, st, n, "kube-apiserver"); err != nil {
				return fmt.Errorf("kube-apiserver on %s: %w", n.Hostname, err)
			}
		}
	}
	progress("kube-apiserver ready on every master; the setup queue applies Homeworld's RBAC")
	select {
	case err := <-pushed:
		if err != nil {
			return err
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	addons, err := deployAddons(ctx, t, st, o)
	if err != nil {
		return err
	}
	items := append(slices.Clone(queued), addons...)
	records, err := WaitApplied(ctx, t, items)
	if err != nil {
		return err
	}
	var names []string
	for _, r := range records {
		names = append(names, r.Manifest)
	}
	progress("setup queue applied %s (%d objects)", strings.Join(names, ", "), Objects(records))
	want := len(o.Config.Nodes) - 1 // all but the supervisor
	var last string
	err = retry(ctx, func() error {
		out, err := kubectl(ctx, t, o.BinDir, nil, "get", "nodes", "-o", "json")
		if err != nil {
			return err
		}
		ready, names := readyNodes(out)
		if s := strings.Join(names, ","); s != last {
			last = s
			progress("%d/%d Kubernetes nodes Ready: %s", len(names), want, s)
		}
		if ready < want {
			var notReady []string
			for _, n := range o.Config.Nodes {
				if n.Kind != config.KindSupervisor && !slices.Contains(names, n.Hostname) {
					notReady = append(notReady, n.Hostname)
				}
			}
			return fmt.Errorf("%d of %d nodes Ready; not Ready: %s", ready, want, strings.Join(notReady, ", "))
		}
		return nil
	})
	if err != nil {
		return err
	}
	// kubelets may not label their own role (NodeRestriction), so the
	// admin marks the masters; kubectl then shows their role.
	var masters []string
	for _, n := range o.Config.NodesOf(config.KindMaster) {
		masters = append(masters, n.Hostname)
	}
	if err := retry(ctx, func() error {
		_, err := kubectl(ctx, t, o.BinDir, nil, append(append([]string{"label", "--overwrite", "node"}, masters...), ControlPlaneLabel+"=")...)
		return err
	}); err != nil {
		return err
	}
	// Workloads can be created once the default service account exists.
	return retry(ctx, func() error {
		_, err := kubectl(ctx, t, o.BinDir, nil, "get", "serviceaccount", "default", "-n", "default")
		return err
	})
}

// readyNodes counts nodes whose Ready condition is True.
func readyNodes(js []byte) (int, []string) {
	var list struct {
		Items []struct {
			Metadata struct{ Name string } `json:"metadata"`
			Spec     struct {
				Taints []struct{ Key string } `json:"taints"`
			} `json:"spec"`
			Status struct {
				Conditions []struct{ Type, Status string } `json:"conditions"`
			} `json:"status"`
		} `json:"items"`
	}
	if json.Unmarshal(js, &list) != nil {
		return 0, nil
	}
	var names []string
	for _, it := range list.Items {
		notReadyTaint := false
		for _, tn := range it.Spec.Taints {
			notReadyTaint = notReadyTaint || tn.Key == "node.kubernetes.io/not-ready"
		}
		for _, c := range it.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" && !notReadyTaint {
				names = append(names, it.Metadata.Name)
			}
		}
	}
	return len(names), names
}

// retry calls f until it succeeds or ctx ends.
func retry(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// RBACManifests are Homeworld's RBAC, queued before anything starts: the
// setup queue applies them as soon as the API answers.
func RBACManifests(c *config.Config) []Manifest {
	return []Manifest{{"rbac", rbac.Manifest(c)}, {"flannel", rbac.FlannelManifest()}}
}
