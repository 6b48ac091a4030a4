package verify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/services"
)

// Check is one named verification.
type Check struct {
	Name        string
	Description string
	Run         func(ctx context.Context, p *Prometheus, c *config.Config) error
}

// Problems collects every failure of one check, so one run names every
// broken node at once.
type Problems []string

func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	sort.Strings(ps)
	return errors.New(strings.Join(ps, "; "))
}

// Notices are what a check saw that needs no action to pass but that an
// operator wants to know: a unit systemd had to restart. A check returns
// them as its error; verify prints them and counts the check as passed.
type Notices []string

func (n Notices) Error() string {
	sort.Strings(n)
	return strings.Join(n, "; ")
}

// Passed reports whether err is nil or only notices.
func Passed(err error) bool {
	var n Notices
	return err == nil || errors.As(err, &n)
}

// RestartWindow is how far back verify services looks for restarts.
const RestartWindow = 15 * time.Minute

// MinCredentialLife is how long every credential must still be valid.
const MinCredentialLife = 24 * time.Hour

// Checks lists the checks in the order a cluster comes up.
var Checks = []Check{
	{"online", "every node's exporter answers and accepts an SSH login with a keysystem certificate", online},
	{"keysystem", "every node holds all its credentials, none close to expiry; the impersonation (gateway) path grants", keysystem},
	{"keygateway", "auth-monitor authenticates to the Kerberos key gateway with the supervisor's host key (where setup.yaml names a realm)", keygatewayCheck},
	{"services", "every service of the service map is active on every node of its kinds", servicesCheck},
	{"etcd", "every etcd member answers and sees a leader", etcd},
	{"registry", "the image registry on the supervisor answers over TLS as " + services.RegistryName + ", and the storage behind it too", registry},
	{"kubernetes", "every kube-apiserver answers; every node is registered and Ready, masters unschedulable; system namespaces active", kubernetes},
	{"kubernetes-init", "the setup queue on the supervisor has applied every queued manifest (RBAC, add-ons); none is refused", kubernetesInit},
	{"pull", "every master and worker pulls the pullcheck image from the registry and runs it (pull-monitor)", pull},
	{"flannel", "pods on every master and worker reach pods on every other (flannel-monitor, measured in the last minute)", flannel},
	{"dns", "the cluster DNS resolves the cluster's Service names from a pod, and forwards where checked (dns-monitor, in the last 30 s)", dns},
}

// Find returns the named check.
func Find(name string) (Check, error) {
	var names []string
	for _, c := range Checks {
		if c.Name == name {
			return c, nil
		}
		names = append(names, c.Name)
	}
	return Check{}, fmt.Errorf("no check named %q (checks: %s)", name, strings.Join(names, ", "))
}

func nodesOf(c *config.Config, kinds ...config.Kind) []config.Node {
	if len(kinds) == 0 {
		return c.Nodes
	}
	var out []config.Node
	for _, k := range kinds {
		out = append(out, c.NodesOf(k)...)
	}
	return out
}

// perNode checks that query gives, for every node of kinds, a sample of
// value 1; missing and wrong samples are reported with the given phrases.
func perNode(ctx context.Context, p *Prometheus, c *config.Config, query, missing, wrong string, kinds ...config.Kind) error {
	samples, err := p.Query(ctx, query)
	if err != nil {
		return err
	}
	got := byNode(samples)
	var ps Problems
	for _, n := range nodesOf(c, kinds...) {
		s, ok := got[n.Hostname]
		switch {
		case !ok:
			ps = append(ps, fmt.Sprintf("node %s (%s): %s", n.Hostname, n.IP, missing))
		case s.Value != 1:
			ps = append(ps, fmt.Sprintf("node %s (%s): %s", n.Hostname, n.IP, wrong))
		}
	}
	return ps.err()
}

func online(ctx context.Context, p *Prometheus, c *config.Config) error {
	if err := perNode(ctx, p, c, `up{job="`+services.NodeExporter.Job+`"}`,
		"not known to Prometheus", "offline: its node exporter does not answer"); err != nil {
		return err
	}
	return perNode(ctx, p, c, `keysystem_ssh_access_check`,
		"auth-monitor has not tried SSH to it (is auth-monitor running?)", "SSH login with a keysystem certificate fails")
}

func keysystem(ctx context.Context, p *Prometheus, c *config.Config) error {
	if err := perNode(ctx, p, c, `homeworld_keyclient_ready`,
		"keyclient does not answer", "keyclient lacks some credentials (see its /readyz)"); err != nil {
		return err
	}
	samples, err := p.Query(ctx, fmt.Sprintf(`homeworld_keyclient_credential_expiry_timestamp_seconds - time() < %d`, int(MinCredentialLife.Seconds())))
	if err != nil {
		return err
	}
	var ps Problems
	for _, s := range samples {
		ps = append(ps, fmt.Sprintf("node %s: credential %s expires in %s", s.Labels["node"], s.Labels["credential"],
			time.Duration(s.Value*float64(time.Second)).Round(time.Minute)))
	}
	if err := ps.err(); err != nil {
		return err
	}
	adminPath, err := p.Query(ctx, `keysystem_admin_path_check`)
	if err != nil {
		return err
	}
	if len(adminPath) != 1 || adminPath[0].Value != 1 {
		return fmt.Errorf("node %s: auth-monitor could not obtain a credential through the keyserver's impersonation path (the one the Kerberos gateway uses for admins)", c.Supervisor().Hostname)
	}
	return nil
}

// keygatewayCheck reads auth-monitor's end-to-end check of the gateway: a
// ticket for the supervisor's host principal from its keytab, accepted by
// the gateway and impersonated at the keyserver.
func keygatewayCheck(ctx context.Context, p *Prometheus, c *config.Config) error {
	if c.Cluster.KerberosRealm == "" {
		return Notices{"Kerberos is disabled (setup.yaml names no cluster.kerberos-realm): no key gateway to check"}
	}
	samples, err := p.Query(ctx, `keysystem_gateway_auth_check`)
	if err != nil {
		return err
	}
	if len(samples) != 1 || samples[0].Value != 1 {
		return fmt.Errorf("node %s: auth-monitor could not authenticate to the key gateway (is the keytab installed? spire setup keygateway; auth-monitor's log names the cause)", c.Supervisor().Hostname)
	}
	return nil
}

func servicesCheck(ctx context.Context, p *Prometheus, c *config.Config) error {
	samples, err := p.Query(ctx, `node_systemd_unit_state == 1`)
	if err != nil {
		return err
	}
	state := map[string]string{} // node/unit -> current state
	for _, s := range samples {
		state[s.Labels["node"]+"/"+s.Labels["name"]] = s.Labels["state"]
	}
	var ps Problems
	for _, n := range c.Nodes {
		for _, svc := range services.On(c, n) {
			unit := svc.Unit()
			switch st := state[n.Hostname+"/"+unit]; st {
			case "active":
			case "":
				ps = append(ps, fmt.Sprintf("node %s: service %s has no state (is the node's service manager reachable?)", n.Hostname, svc.Name))
			default:
				ps = append(ps, fmt.Sprintf("node %s: service %s is %s, want active", n.Hostname, svc.Name, st))
			}
		}
	}
	if err := ps.err(); err != nil {
		return err
	}
	return restarts(ctx, p, c)
}

// restarts notices units systemd restarted lately (the node exporter's
// restart counter): each was down for a moment, and its journal says why.
func restarts(ctx context.Context, p *Prometheus, c *config.Config) error {
	samples, err := p.Query(ctx, fmt.Sprintf(`round(increase(node_systemd_service_restart_total[%dm])) > 0`, int(RestartWindow.Minutes())))
	if err != nil {
		return err
	}
	var ns Notices
	for _, s := range samples {
		if _, ok := c.FindNode(s.Labels["node"]); ok {
			ns = append(ns, fmt.Sprintf("node %s: %s restarted %d times in the last %s (systemd brought it back; journalctl -u %[2]s says why)",
				s.Labels["node"], s.Labels["name"], int(s.Value), RestartWindow))
		}
	}
	if len(ns) > 0 {
		return ns
	}
	return nil
}

func etcd(ctx context.Context, p *Prometheus, c *config.Config) error {
	return perNode(ctx, p, c, `etcd_server_has_leader`,
		"no etcd metrics (etcd or etcd-exporter is down)", "etcd member has no leader", config.KindMaster)
}

func kubernetes(ctx context.Context, p *Prometheus, c *config.Config) error {
	if err := perNode(ctx, p, c, `up{job="`+services.APIServer.Job+`"}`,
		"kube-apiserver is not scraped", "kube-apiserver does not answer", config.KindMaster); err != nil {
		return err
	}
	kube := []config.Kind{config.KindMaster, config.KindWorker}
	if err := perNode(ctx, p, c, `kube_node_info`, "not registered with Kubernetes", "not registered with Kubernetes", kube...); err != nil {
		return err
	}
	if err := perNode(ctx, p, c, `kube_node_status_condition{condition="Ready",status="true"}`,
		"has no Ready condition", "is not Ready", kube...); err != nil {
		return err
	}
	taints, err := p.Query(ctx, `kube_node_spec_taint{key="node-role.kubernetes.io/control-plane",effect="NoSchedule"}`)
	if err != nil {
		return err
	}
	tainted := byNode(taints)
	var ps Problems
	for _, n := range nodesOf(c, kube...) {
		_, has := tainted[n.Hostname]
		switch {
		case n.Kind == config.KindMaster && !has:
			ps = append(ps, fmt.Sprintf("node %s: master is schedulable (no control-plane NoSchedule taint)", n.Hostname))
		case n.Kind == config.KindWorker && has:
			ps = append(ps, fmt.Sprintf("node %s: worker is unschedulable", n.Hostname))
		}
	}
	nss, err := p.Query(ctx, `kube_namespace_status_phase{phase="Active",namespace=~"default|kube-system|kube-public"} == 1`)
	if err != nil {
		return err
	}
	if len(nss) != 3 {
		ps = append(ps, fmt.Sprintf("%d of the namespaces default, kube-system, kube-public are active, want 3", len(nss)))
	}
	return ps.err()
}

func registry(ctx context.Context, p *Prometheus, c *config.Config) error {
	if err := perNode(ctx, p, c, `up{job="`+services.RegistryFront.Job+`"}`,
		"the registry is not scraped (is registry-front in the service map's supervisor services?)",
		"the registry "+services.RegistryName+" does not answer over TLS (registry-front is down)",
		config.KindSupervisor); err != nil {
		return err
	}
	return perNode(ctx, p, c, `registry_front_backend_up`,
		"registry-front does not report on the registry behind it",
		"the registry behind "+services.RegistryName+" does not answer (the registry service is down)",
		config.KindSupervisor)
}
