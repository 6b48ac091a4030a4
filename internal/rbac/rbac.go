// Package rbac renders the Kubernetes authorization objects Homeworld adds
// to the built-in ones. Identities come from keysystem certificates (spec
// §4.3): kubelets are system:node:<host> in system:nodes (Node authorizer),
// kube-proxy, the controller manager and the scheduler use their built-in
// users, admins are root:<principal> in system:masters. What is missing by
// default is the apiserver's access to kubelets (logs, exec), granted here
// to each master's apiserver identity, read-only access for the
// supervisor's monitoring (supervisor:<host>) and its reading of the
// in-cluster monitors through the service proxy, what the supervisor's
// user-grant service needs to give users namespaces (UserGrantUser), and,
// in a manifest of its own, flannel's (FlannelGroup). spire applies them
// (virt up, spire deploy flannel).
package rbac

import (
	"fmt"
	"strings"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/monitoring"
)

// FlannelGroup is the certificate organization of every node's flanneld
// (user flannel:<host>). With the Kubernetes subnet manager it reads nodes
// (their pod ranges and the other nodes' VXLAN addresses) and patches node
// status (its own annotations and NetworkUnavailable condition); it is
// granted exactly that.
const FlannelGroup = "homeworld:flannel"

// Manifest returns the objects as one YAML document stream.
func Manifest(c *config.Config) string {
	var subjects []string
	for _, m := range c.NodesOf(config.KindMaster) {
		subjects = append(subjects, fmt.Sprintf("- apiGroup: rbac.authorization.k8s.io\n  kind: User\n  name: apiserver:%s", m.Hostname))
	}
	sup := c.Supervisor().Hostname
	return supervisorMonitoring(sup) + "---\n" + supervisorProxy(sup) + "---\n" + apiserverKubeletClient(subjects) + "---\n" + UserGrant(sup)
}

// UserGrantUser is the Kubernetes user of the supervisor's user-grant
// service (its certificate's common name).
func UserGrantUser(supervisorHostname string) string { return "user-grant:" + supervisorHostname }

// UserGrant lets the user-grant service (user user-grant:<sup>) give a
// user a namespace: create it, bind the user the built-in admin
// ClusterRole there (binding a role needs bind on it, or every permission
// in it), and bound it with a quota and limits, putting back what an admin
// changed. RBAC cannot limit that to some namespaces, so an admission
// policy does: user-grant acts only on namespaces named user-<name>, and
// binds there only admin, to User user:<name>. A stolen user-grant
// identity can thus make nobody an admin of kube-system.
func UserGrant(sup string) string {
	user := UserGrantUser(sup)
	return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: homeworld:user-grant
  labels: {app.kubernetes.io/managed-by: homeworld}
rules:
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, create]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [rolebindings]
  verbs: [get, create, update]
- apiGroups: [""]
  resources: [resourcequotas, limitranges]
  verbs: [get, create, update]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [clusterroles]
  resourceNames: [admin]
  verbs: [bind]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: homeworld:user-grant
  labels: {app.kubernetes.io/managed-by: homeworld}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: homeworld:user-grant
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: ` + user + `
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: homeworld-user-grant-scope
  labels: {app.kubernetes.io/managed-by: homeworld}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [namespaces, resourcequotas, limitranges]
    - apiGroups: [rbac.authorization.k8s.io]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [rolebindings]
  matchConditions:
  - name: by-user-grant
    expression: request.userInfo.username == '` + user + `'
  validations:
  - expression: "request.resource.resource == 'namespaces' ? object.metadata.name.startsWith('user-') : request.namespace.startsWith('user-')"
    message: user-grant acts only on namespaces named user-<name>
  - expression: "request.resource.resource != 'rolebindings' || (object.roleRef.kind == 'ClusterRole' && object.roleRef.name == 'admin' && object.subjects.all(s, s.kind == 'User' && s.name == 'user:' + request.namespace.substring(5)))"
    message: user-grant binds only the admin ClusterRole, to the user the namespace is named after
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: homeworld-user-grant-scope
  labels: {app.kubernetes.io/managed-by: homeworld}
spec:
  policyName: homeworld-user-grant-scope
  validationActions: [Deny]
`
}

func supervisorMonitoring(sup string) string {
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
  name: supervisor:` + sup + "\n"
}

// supervisorProxy lets Prometheus, as the supervisor, read the in-cluster
// monitors through the apiserver's service proxy: get on services/proxy
// for their Services alone. RBAC sees a proxy request's resource name as
// the path writes it, service:port (k8s.io/apiserver's RequestInfo), so
// that is what resourceNames lists.
func supervisorProxy(sup string) string {
	byNS := map[string][]string{}
	var namespaces []string
	for _, a := range monitoring.Addons {
		if byNS[a.Namespace] == nil {
			namespaces = append(namespaces, a.Namespace)
		}
		byNS[a.Namespace] = append(byNS[a.Namespace], a.ProxyName())
	}
	var docs []string
	for _, ns := range namespaces {
		docs = append(docs, fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: homeworld:supervisor-monitor-proxy
  namespace: %[1]s
  labels: {app.kubernetes.io/managed-by: homeworld}
rules:
- apiGroups: [""]
  resources: [services/proxy]
  resourceNames: [%[2]s]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: homeworld:supervisor-monitor-proxy
  namespace: %[1]s
  labels: {app.kubernetes.io/managed-by: homeworld}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: homeworld:supervisor-monitor-proxy
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: supervisor:%[3]s
`, ns, strings.Join(byNS[ns], ", "), sup))
	}
	return strings.Join(docs, "---\n")
}

func apiserverKubeletClient(subjects []string) string {
	return `apiVersion: rbac.authorization.k8s.io/v1
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

// FlannelManifest returns what every node's flanneld may do in the API, as
// one YAML document stream.
func FlannelManifest() string {
	return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: homeworld:flannel
  labels: {app.kubernetes.io/managed-by: homeworld}
rules:
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [nodes/status]
  verbs: [patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: homeworld:flannel
  labels: {app.kubernetes.io/managed-by: homeworld}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: homeworld:flannel
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: ` + FlannelGroup + "\n"
}
