// Package rbac renders the Kubernetes authorization objects Homeworld adds
// to the built-in ones. Identities come from keysystem certificates (spec
// §4.3): kubelets are system:node:<host> in system:nodes (Node authorizer),
// kube-proxy, the controller manager and the scheduler use their built-in
// users, admins are root:<principal> in system:masters. What is missing by
// default is the apiserver's access to kubelets (logs, exec), granted here
// to each master's apiserver identity, and read-only access for the
// supervisor's monitoring (supervisor:<host>). spire applies it.
package rbac

import (
	"fmt"
	"strings"

	"homeworld.dev/homeworld/internal/config"
)

// Manifest returns the objects as one YAML document stream.
func Manifest(c *config.Config) string {
	var subjects []string
	for _, m := range c.NodesOf(config.KindMaster) {
		subjects = append(subjects, fmt.Sprintf("- apiGroup: rbac.authorization.k8s.io\n  kind: User\n  name: apiserver:%s", m.Hostname))
	}
	sup := c.Supervisor().Hostname
	return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: homeworld:supervisor-monitoring
  labels: {app.kubernetes.io/managed-by: homeworld}
rules:
- apiGroups: [""]
  resources: [nodes, nodes/metrics, nodes/proxy, services, endpoints, pods, namespaces, persistentvolumes, persistentvolumeclaims, resourcequotas, limitranges, replicationcontrollers, configmaps]
  verbs: [get, list, watch]
- apiGroups: [apps]
  resources: [deployments, daemonsets, statefulsets, replicasets]
  verbs: [get, list, watch]
- apiGroups: [batch]
  resources: [jobs, cronjobs]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
- nonResourceURLs: [/metrics]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: homeworld:supervisor-monitoring
  labels: {app.kubernetes.io/managed-by: homeworld}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: homeworld:supervisor-monitoring
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: supervisor:` + sup + `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: homeworld:apiserver-kubelet-client
  labels: {app.kubernetes.io/managed-by: homeworld}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:kubelet-api-admin
subjects:
` + strings.Join(subjects, "\n") + "\n"
}
