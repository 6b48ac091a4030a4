// Package kubeapply applies Homeworld's Kubernetes manifests with the
// pinned kubectl: server-side, as one field manager, so applying the same
// manifest again changes nothing, and it says for each object whether it
// was created, changed or left unchanged. spire's deploy commands and the
// virtual cluster use it.
package kubeapply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// FieldManager owns the fields Homeworld sets; the virtual cluster's RBAC
// is applied under the same name.
const FieldManager = "homeworld"

// Kubectl is how to reach the cluster.
type Kubectl struct {
	Path       string // the pinned kubectl
	Kubeconfig string // an admin's
	// CacheDir is where kubectl keeps the API's discovery documents
	// (--cache-dir); empty is kubectl's default, ~/.kube/cache, where an
	// operator's own kubectl looks. A daemon keeps its own.
	CacheDir string
}

// command is kubectl with the connection flags and then args.
func (k Kubectl) command(ctx context.Context, args ...string) *exec.Cmd {
	flags := []string{"--kubeconfig", k.Kubeconfig, "--request-timeout", "10s"}
	if k.CacheDir != "" {
		flags = append(flags, "--cache-dir", k.CacheDir)
	}
	return exec.CommandContext(ctx, k.Path, append(flags, args...)...)
}

// Outcome is what applying did to one object.
type Outcome string

const (
	Created   Outcome = "created"
	Changed   Outcome = "changed"
	Unchanged Outcome = "unchanged"
)

// Result is one object's outcome, e.g. "deployment.apps/coredns".
type Result struct {
	Object  string
	Outcome Outcome
}

func (r Result) String() string { return fmt.Sprintf("%s %s", r.Object, r.Outcome) }

// Apply applies manifest and reports each object's outcome, in the
// manifest's order. An object is unchanged when its resourceVersion is the
// same afterwards: the API server does not write an apply that changes
// nothing.
func Apply(ctx context.Context, k Kubectl, manifest string) ([]Result, error) {
	// A missing object is left out of the answer, not an error.
	before, err := k.objects(ctx, manifest, "get", "--ignore-not-found", "-f", "-", "-o", "json")
	if err != nil {
		return nil, err
	}
	after, err := k.objects(ctx, manifest, "apply", "--server-side", "--field-manager", FieldManager, "-f", "-", "-o", "json")
	if err != nil {
		return nil, err
	}
	results := make([]Result, 0, len(after))
	for _, o := range after {
		r := Result{Object: o.name(), Outcome: Created}
		for _, b := range before {
			if b.key() == o.key() {
				r.Outcome = Unchanged
				if b.Metadata.ResourceVersion != o.Metadata.ResourceVersion {
					r.Outcome = Changed
				}
			}
		}
		results = append(results, r)
	}
	return results, nil
}

// Reachable reports whether the API server answers and is ready (its
// /readyz), so a caller can tell a server that is away from one that
// rejects a manifest.
func Reachable(ctx context.Context, k Kubectl) error {
	cmd := k.command(ctx, "get", "--raw", "/readyz")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl get --raw /readyz: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name            string `json:"name"`
		Namespace       string `json:"namespace"`
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
}

func (o object) key() string {
	return o.APIVersion + " " + o.Kind + " " + o.Metadata.Namespace + "/" + o.Metadata.Name
}

// name is as kubectl prints it: kind.group/name.
func (o object) name() string {
	kind := strings.ToLower(o.Kind)
	if g, _, ok := strings.Cut(o.APIVersion, "/"); ok {
		kind += "." + g
	}
	return kind + "/" + o.Metadata.Name
}

// objects runs kubectl with the manifest on stdin and decodes the objects
// it prints: one object, a List of them, or nothing.
func (k Kubectl) objects(ctx context.Context, manifest string, args ...string) ([]object, error) {
	cmd := k.command(ctx, args...)
	cmd.Stdin = strings.NewReader(manifest)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("kubectl %s: %v: %s", args[0], err, strings.TrimSpace(string(ee.Stderr)))
		}
		return nil, err
	}
	return decode(out)
}

// decode reads kubectl's -o json output.
func decode(out []byte) ([]object, error) {
	if len(strings.TrimSpace(string(out))) == 0 {
		return nil, nil
	}
	var list struct {
		object
		Items []object `json:"items"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("kubectl's answer: %w", err)
	}
	if list.Kind == "List" || strings.HasSuffix(list.Kind, "List") && list.Items != nil {
		return list.Items, nil
	}
	return []object{list.object}, nil
}
