package usergrant

// The names of what a user is given in their namespace.
const (
	RoleBindingName = "homeworld-user-admin"
	QuotaName       = "homeworld-user-quota"
	LimitRangeName  = "homeworld-user-defaults"
	// UserLabel marks a namespace as user-grant's for that user; a
	// namespace of the same name without it is not taken over.
	UserLabel      = "homeworld.dev/user"
	ManagedByLabel = "app.kubernetes.io/managed-by"
)

// Quota is what one user's namespace may hold. The cluster is small (a few
// workers of some 4 CPUs and 16 GiB each) and shared by every user, so
// one user's requests stay well below a node and their limits at twice
// that (bursts overcommit, steady use cannot). No NodePorts (a port on
// every node is the cluster's, not one user's) and no LoadBalancers
// (there is no provider to fulfil them).
var Quota = map[string]string{
	"pods":                   "20",
	"requests.cpu":           "4",
	"requests.memory":        "8Gi",
	"limits.cpu":             "8",
	"limits.memory":          "16Gi",
	"services":               "10",
	"persistentvolumeclaims": "10",
	"services.nodeports":     "0",
	"services.loadbalancers": "0",
}

// Container defaults: with a CPU and memory quota the apiserver admits
// only containers that state requests and limits, so these fill them in
// for containers that do not (kubectl run, most examples): about 40 such
// containers' requests fit the quota.
var (
	DefaultRequest = map[string]string{"cpu": "100m", "memory": "128Mi"}
	DefaultLimit   = map[string]string{"cpu": "500m", "memory": "512Mi"}
)

type meta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// object is one object user-grant keeps as it wants it.
type object struct {
	Collection string   // API path of its collection
	Kind, Name string   // for messages
	Owned      []string // top-level fields user-grant sets (beside labels)
	Body       any      // the whole object to create
}

func labels(user string) map[string]string {
	return map[string]string{ManagedByLabel: "homeworld", UserLabel: user}
}

// namespaceObject is user's namespace. It is only ever created, never
// changed: user-grant may not update namespaces.
func namespaceObject(user string) object {
	return object{
		Collection: "/api/v1/namespaces", Kind: "namespace", Name: Namespace(user),
		Body: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": meta{Name: Namespace(user), Labels: labels(user)}},
	}
}

// namespaced are the objects in user's namespace, in the order they are
// made: the quota and defaults before the binding, so the user is never
// admin of a namespace without its quota.
func namespaced(user string) []object {
	ns := Namespace(user)
	m := func(name string) meta { return meta{Name: name, Namespace: ns, Labels: labels(user)} }
	return []object{
		{
			Collection: "/api/v1/namespaces/" + ns + "/resourcequotas", Kind: "resourcequota", Name: QuotaName, Owned: []string{"spec"},
			Body: map[string]any{"apiVersion": "v1", "kind": "ResourceQuota", "metadata": m(QuotaName),
				"spec": map[string]any{"hard": Quota}},
		},
		{
			Collection: "/api/v1/namespaces/" + ns + "/limitranges", Kind: "limitrange", Name: LimitRangeName, Owned: []string{"spec"},
			Body: map[string]any{"apiVersion": "v1", "kind": "LimitRange", "metadata": m(LimitRangeName),
				"spec": map[string]any{"limits": []any{map[string]any{"type": "Container", "default": DefaultLimit, "defaultRequest": DefaultRequest}}}},
		},
		{
			Collection: "/apis/rbac.authorization.k8s.io/v1/namespaces/" + ns + "/rolebindings", Kind: "rolebinding", Name: RoleBindingName, Owned: []string{"roleRef", "subjects"},
			Body: map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": m(RoleBindingName),
				"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
				"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": KubeUser(user)}}},
		},
	}
}
