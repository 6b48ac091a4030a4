// Package monitoring generates the supervisor's Prometheus configuration and
// alerting rules from setup.yaml and the service map: every node's exporter,
// keyclient and service states, the keyserver, etcd and the apiservers, and
// the in-cluster monitors (Addons) through the apiserver's service proxy. The
// checks of spire verify query the series it collects. kube-launch (for
// Prometheus) and spire import it.
package monitoring

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/services"
)

// Options vary between real hosts and the virtual cluster.
type Options struct {
	// Virtual: service states (node_systemd_unit_state) come from the
	// virtual cluster's node supervisors; on real hosts the node
	// exporter's systemd collector reports them in its own job.
	Virtual        bool
	ScrapeInterval time.Duration
	// LateInterval, when set, is how often the LateJobs are scraped
	// instead of ScrapeInterval.
	LateInterval time.Duration
	// BulkInterval, when set, is how often the BulkJobs are scraped
	// instead of ScrapeInterval.
	BulkInterval   time.Duration
	RulesFile      string // production path of the rules
	ClusterCA      string // production path of clusterca.pem (keyserver TLS)
	KubeCA         string
	SupervisorCert string
	SupervisorKey  string
}

type target struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels"`
}

type job struct {
	Name     string         `yaml:"job_name"`
	Interval string         `yaml:"scrape_interval,omitempty"`
	Scheme   string         `yaml:"scheme,omitempty"`
	Path     string         `yaml:"metrics_path,omitempty"`
	TLS      map[string]any `yaml:"tls_config,omitempty"`
	Static   []target       `yaml:"static_configs"`
	Honor    bool           `yaml:"honor_labels,omitempty"`
	Relabel  []relabel      `yaml:"metric_relabel_configs,omitempty"`
}

type relabel struct {
	SourceLabels []string `yaml:"source_labels"`
	Regex        string   `yaml:"regex"`
	Action       string   `yaml:"action"`
}

// nodeTargets lists endpoint e on every node of the given kinds.
func nodeTargets(c *config.Config, e services.Endpoint, kinds []config.Kind) []target {
	var out []target
	for _, n := range c.Nodes {
		if !slices.Contains(kinds, n.Kind) {
			continue
		}
		out = append(out, target{
			Targets: []string{e.Addr(n.IP)},
			Labels:  map[string]string{"node": n.Hostname, "kind": string(n.Kind)},
		})
	}
	return out
}

// Scraped is one scrape job: an endpoint and the node kinds it runs on.
type Scraped struct {
	Endpoint services.Endpoint
	Kinds    []config.Kind
}

// Jobs lists what Prometheus scrapes, from the service map: every
// endpoint with a job, on the kinds of its service, in map order.
func Jobs(o Options) []Scraped {
	var out []Scraped
	for _, s := range services.Map {
		for _, e := range s.Endpoints {
			if e.Job != "" {
				out = append(out, Scraped{e, s.Kinds})
			}
		}
	}
	if o.Virtual {
		out = append(out, Scraped{services.NodeSupervisor, config.Kinds})
	}
	return out
}

// Addon is a Service in the cluster whose /metrics Prometheus reads
// through the first master's apiserver (its service proxy), as the
// supervisor: the monitors that live in pods, which Prometheus on the
// supervisor cannot reach directly (it has no pod network).
type Addon struct {
	Job       string
	Namespace string
	Service   string
	Port      string // the Service's port name
}

// Addons are the in-cluster monitors (internal/flannelmonitor and
// internal/dnsmonitor; a test checks the names agree).
var Addons = []Addon{
	{Job: "flannel-monitor", Namespace: "kube-system", Service: "flannel-monitor-collector", Port: "metrics"},
	{Job: "dns-monitor", Namespace: "kube-system", Service: "dns-monitor", Port: "metrics"},
}

// ProxyName is the Service as the proxy path names it, and as RBAC sees
// the request (its resource name): service:port.
func (a Addon) ProxyName() string { return a.Service + ":" + a.Port }

// Path is the apiserver's path to the Service's /metrics.
func (a Addon) Path() string {
	return "/api/v1/namespaces/" + a.Namespace + "/services/" + a.ProxyName() + "/proxy/metrics"
}

// LateJobs are the jobs whose first results come last in a new cluster,
// so the proof that it works waits on their first scrape: the service
// states (a service counts as active once it is ready, and flannel is
// ready last, after its node's pod range) and the in-cluster monitors,
// whose pods start once the nodes are Ready.
func LateJobs() []string {
	jobs := []string{services.NodeSupervisor.Job}
	for _, a := range Addons {
		jobs = append(jobs, a.Job)
	}
	return jobs
}

// BulkJobs are the jobs that hold most of Prometheus's series (on a
// virtual cluster 10,000 of 12,800: every apiserver's request and object
// counts, every node's resources, etcd's and Prometheus's own), while the
// proof that a cluster works reads from them only whether they answer
// (up, etcd_server_has_leader), and they answer seconds after their node
// starts, long before the proof runs. Scraped less often, Prometheus's
// mapped chunks fill more slowly and the targets render their metrics
// less often.
func BulkJobs() []string {
	return []string{services.APIServer.Job, services.NodeExporter.Job, services.EtcdExporter.Job, services.Prometheus.Job}
}

// interval is the job's own scrape interval, if it has one.
func (o Options) interval(job string) string {
	switch {
	case o.LateInterval > 0 && slices.Contains(LateJobs(), job):
		return o.LateInterval.String()
	case o.BulkInterval > 0 && slices.Contains(BulkJobs(), job):
		return o.BulkInterval.String()
	}
	return ""
}

// PrometheusConfig renders prometheus.yaml.
func PrometheusConfig(c *config.Config, o Options) (string, error) {
	var jobs []job
	for _, s := range Jobs(o) {
		e := s.Endpoint
		j := job{Name: e.Job, Interval: o.interval(e.Job), Path: e.MetricsPath, Honor: e.HonorLabels, Static: nodeTargets(c, e, s.Kinds)}
		if e.Scheme == services.HTTPS {
			j.Scheme = string(services.HTTPS)
		}
		if e.Drop != "" {
			j.Relabel = []relabel{{SourceLabels: []string{"__name__"}, Regex: e.Drop, Action: "drop"}}
		}
		switch e.Trust {
		case services.TrustClusterCA:
			j.TLS = map[string]any{"ca_file": o.ClusterCA, "server_name": c.FQDN(c.Supervisor())}
		case services.TrustKubernetes:
			j.TLS = map[string]any{"ca_file": o.KubeCA, "cert_file": o.SupervisorCert, "key_file": o.SupervisorKey}
		case services.TrustRegistry:
			j.TLS = map[string]any{"ca_file": o.ClusterCA, "server_name": services.RegistryName}
		}
		jobs = append(jobs, j)
	}
	if masters := c.NodesOf(config.KindMaster); len(masters) > 0 {
		for _, a := range Addons {
			// honor_labels: the monitors' labels name the nodes they
			// measure; no target label may replace them.
			jobs = append(jobs, job{Name: a.Job, Interval: o.interval(a.Job), Scheme: string(services.HTTPS), Path: a.Path(), Honor: true,
				TLS:    map[string]any{"ca_file": o.KubeCA, "cert_file": o.SupervisorCert, "key_file": o.SupervisorKey},
				Static: []target{{Targets: []string{services.APIServer.Addr(masters[0].IP)}}}})
		}
	}
	doc := map[string]any{
		"global": map[string]any{
			"scrape_interval":     o.ScrapeInterval.String(),
			"evaluation_interval": o.ScrapeInterval.String(),
			"external_labels":     map[string]string{"cluster": c.Cluster.ExternalDomain},
		},
		"rule_files":     []string{o.RulesFile},
		"scrape_configs": jobs,
	}
	out, err := yaml.Marshal(doc)
	return "# Generated by Homeworld from setup.yaml; do not edit.\n" + string(out), err
}

// ExpiryAlert fires when a node's credential has had less than 8 days left
// for an hour: at least 7 days before it expires, time to fix what blocks
// its renewal. Nodes renew at 62-70% of a lifetime, so a credential whose
// renewal works never gets that close: the shortest lifetime, a role
// certificate's 30 days, leaves 9 days at the latest renewal point.
// internal/timewarp checks both with promtool, on series from a
// simulation.
const ExpiryAlert = "HomeworldCredentialExpiresSoon"

// Rules renders the alerting rules: a credential close to expiry (see
// ExpiryAlert), a target or service down, etcd without leader, a
// node that needs a new admission token or whose clock is off, a keyserver
// that cannot audit (so grants nothing), pods of two nodes that cannot
// talk, a flannel monitor that is not read or has stopped measuring,
// cluster names that do not resolve, forwarding that fails, a
// dns-monitor that has stopped, and a manifest the setup queue cannot
// apply.
func Rules() string {
	rules := []struct{ name, expr, forDur, summary string }{
		{ExpiryAlert, `homeworld_keyclient_credential_expiry_timestamp_seconds - time() < 8 * 86400`, "1h",
			"{{ $labels.credential }} on {{ $labels.node }} expires in less than 8 days: its renewal, due with 9 days or more left, is failing"},
		{"HomeworldCredentialMissing", `homeworld_keyclient_ready == 0`, "10m",
			"{{ $labels.node }} lacks some of its credentials"},
		{"HomeworldTargetDown", `up == 0`, "5m",
			"{{ $labels.job }} on {{ $labels.node }} does not answer"},
		{"HomeworldServiceNotActive", `node_systemd_unit_state{state="active"} == 0`, "5m",
			"{{ $labels.name }} on {{ $labels.node }} is not active"},
		{"HomeworldEtcdNoLeader", `etcd_server_has_leader == 0`, "2m",
			"etcd on {{ $labels.node }} has no leader"},
		{"HomeworldNodeNeedsAdmission", `homeworld_keyclient_needs_admission_token == 1`, "5m",
			"{{ $labels.node }} has no usable identity and no admission token: spire infra admit it"},
		{"HomeworldClockSkew", `abs(homeworld_keyclient_clock_skew_seconds) > 300`, "10m",
			"{{ $labels.node }}'s clock is {{ $value | humanizeDuration }} off the keyserver's; fix its time sync"},
		{"HomeworldAuditFailing", `increase(homeworld_keyserver_audit_failures_total[5m]) > 0`, "0m",
			"the keyserver cannot write its audit log and is refusing to grant anything"},
		{"HomeworldFlannelTalkFailing", `flannel_talk_check == 0`, "3m",
			"pods on {{ $labels.ping_from_host }} cannot reach pods on {{ $labels.ping_to_host }}"},
		{"HomeworldFlannelMonitorUnread", `flannel_collect_check == 0`, "5m",
			"flannel-monitor's collector gets nothing from a monitor on {{ $labels.monitor_hostip }} (none there, or unreachable)"},
		{"HomeworldFlannelMonitorStale", `time() - flannel_monitor_recency > 60`, "5m",
			"the flannel monitor on {{ $labels.ping_from_host }} last measured {{ $value | humanizeDuration }} ago"},
		{"HomeworldDNSLookupFailing", `dns_lookup_internal_check == 0`, "3m",
			"the cluster DNS does not resolve {{ $labels.hostname }} to its Service address"},
		{"HomeworldDNSForwardingFailing", `dns_lookup_upstream_check == 0`, "5m",
			"the cluster DNS does not resolve {{ $labels.hostname }}, outside the cluster: forwarding to the upstream resolvers fails"},
		{"HomeworldDNSMonitorStale", `time() - dns_lookup_recency > 60`, "5m",
			"dns-monitor last looked names up {{ $value | humanizeDuration }} ago"},
		{"HomeworldSetupQueueItemFailing", `setup_queue_failing == 1`, "2m",
			"the setup queue on {{ $labels.node }} cannot apply {{ $labels.manifest }}: the API server refuses it (setup-queue's log says why)"},
	}
	var b strings.Builder
	b.WriteString("# Generated by Homeworld; do not edit.\ngroups:\n- name: homeworld\n  rules:\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "  - alert: %s\n    expr: %s\n    for: %s\n    labels: {severity: page}\n    annotations:\n      summary: %q\n", r.name, r.expr, r.forDur, r.summary)
	}
	return b.String()
}
