package verify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/services"
)

// The queries the checks send. The expiry query is built from the constant
// the check uses, job names come from the service map; the rest are the
// checks' literals, and a change to one
// fails the tests below (the fake answers nothing it was not given).
var (
	qUp             = `up{job="` + services.NodeExporter.Job + `"}`
	qSSH            = `keysystem_ssh_access_check`
	qKeyclientReady = `homeworld_keyclient_ready`
	qAdminPath      = `keysystem_admin_path_check`
	qGateway        = `keysystem_gateway_auth_check`
	qUnitState      = `node_systemd_unit_state == 1`
	qEtcdLeader     = `etcd_server_has_leader`
	qAPIServerUp    = `up{job="` + services.APIServer.Job + `"}`
	qRegistryUp     = `up{job="` + services.RegistryFront.Job + `"}`
	qBackendUp      = `registry_front_backend_up`
	qPulled         = `oci_pull_check`
	qQueueUp        = `up{job="` + services.SetupQueue.Job + `"}`
	qQueueFailing   = `setup_queue_failing == 1`
	qQueueAway      = `setup_queue_apiserver_unreachable == 1`
	qQueuePending   = `setup_queue_pending`
	qRan            = `oci_exec_check`
	qFailedStep     = `oci_check_failed_step_info == 1`
	qNodeInfo       = `kube_node_info`
	qNodeReady      = `kube_node_status_condition{condition="Ready",status="true"}`
	qMasterTaint    = `kube_node_spec_taint{key="node-role.kubernetes.io/control-plane",effect="NoSchedule"}`
	qNamespaces     = `kube_namespace_status_phase{phase="Active",namespace=~"default|kube-system|kube-public"} == 1`
)

var qRestarts = fmt.Sprintf(`round(increase(node_systemd_service_restart_total[%dm])) > 0`, int(RestartWindow.Minutes()))

var qExpiring = fmt.Sprintf(`homeworld_keyclient_credential_expiry_timestamp_seconds - time() < %d`, int(MinCredentialLife.Seconds()))

// testConfig is the test cluster: 1 supervisor, 3 masters, 2 workers.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	c, _, err := config.Parse("setup.yaml", []byte(keysystemtest.Setup))
	if err != nil {
		t.Fatal(err)
	}
	c.Cluster.KerberosRealm = "HOMEWORLD.TEST" // the key gateway runs
	return c
}

// allAt is value on every node of kinds (every node if none).
func allAt(c *config.Config, value string, kinds ...config.Kind) []sample {
	var out []sample
	for _, n := range nodesOf(c, kinds...) {
		out = append(out, at(n.Hostname, value))
	}
	return out
}

// without drops node's samples; with replaces its value.
func without(samples []sample, node string) []sample {
	var out []sample
	for _, s := range samples {
		if s.labels["node"] != node {
			out = append(out, s)
		}
	}
	return out
}

func with(samples []sample, node, value string) []sample {
	return append(without(samples, node), at(node, value))
}

// unitStates is node_systemd_unit_state == 1 with every service of the
// service map on every node in state, except those in other (node/service
// -> state; "" leaves the service out).
func unitStates(c *config.Config, other map[string]string) []sample {
	var out []sample
	for _, n := range c.Nodes {
		for _, svc := range services.For(n.Kind) {
			state, ok := other[n.Hostname+"/"+svc.Name]
			if !ok {
				state = "active"
			}
			if state != "" {
				out = append(out, sample{map[string]string{"node": n.Hostname, "name": svc.Unit(), "state": state}, "1"})
			}
		}
	}
	return out
}

// healthy is every query answered as by a working cluster.
func healthy(c *config.Config) map[string]string {
	kube := []config.Kind{config.KindMaster, config.KindWorker}
	answers := map[string]string{
		qUp:             vector(allAt(c, "1")...),
		qSSH:            vector(allAt(c, "1")...),
		qKeyclientReady: vector(allAt(c, "1")...),
		qExpiring:       vector(),
		qAdminPath:      vector(at(c.Supervisor().Hostname, "1")),
		qGateway:        vector(at(c.Supervisor().Hostname, "1")),
		qUnitState:      vector(unitStates(c, nil)...),
		qRestarts:       vector(),
		qEtcdLeader:     vector(allAt(c, "1", config.KindMaster)...),
		qAPIServerUp:    vector(allAt(c, "1", config.KindMaster)...),
		qRegistryUp:     vector(at(c.Supervisor().Hostname, "1")),
		qBackendUp:      vector(at(c.Supervisor().Hostname, "1")),
		qPulled:         vector(pullSamples(c, "1")...),
		qQueueUp:        vector(at(c.Supervisor().Hostname, "1")),
		qQueueFailing:   vector(),
		qQueueAway:      vector(),
		qQueuePending:   vector(at(c.Supervisor().Hostname, "0")),
		qRan:            vector(pullSamples(c, "1")...),
		qFailedStep:     vector(),
		qNodeInfo:       vector(allAt(c, "1", kube...)...),
		qNodeReady:      vector(allAt(c, "1", kube...)...),
		qMasterTaint:    vector(allAt(c, "1", config.KindMaster)...),
		qNamespaces: vector(
			sample{map[string]string{"namespace": "default", "phase": "Active"}, "1"},
			sample{map[string]string{"namespace": "kube-system", "phase": "Active"}, "1"},
			sample{map[string]string{"namespace": "kube-public", "phase": "Active"}, "1"},
		),
	}
	maps.Copy(answers, networkHealthy(c))
	return answers
}

func run(t *testing.T, name string, answers map[string]string) (*fakeProm, error) {
	t.Helper()
	check, err := Find(name)
	if err != nil {
		t.Fatal(err)
	}
	f, p := newFakeProm(t, answers)
	return f, check.Run(context.Background(), p, testConfig(t))
}

// TestHealthyClusterPasses runs every check on a working cluster's answers,
// and checks that the table holds no query no check asks any more.
func TestHealthyClusterPasses(t *testing.T) {
	c := testConfig(t)
	f, p := newFakeProm(t, healthy(c))
	for _, check := range Checks {
		if err := check.Run(context.Background(), p, c); err != nil {
			t.Errorf("check %s on a healthy cluster: %v", check.Name, err)
		}
	}
	if q := f.queries(false); len(q) > 0 {
		t.Errorf("no check asked %q: the test's table is stale", q)
	}
}

func TestCheckFailures(t *testing.T) {
	c := testConfig(t)
	h := healthy(c)
	ones := func(kinds ...config.Kind) []sample { return allAt(c, "1", kinds...) }
	const expiringIn2h = "7200"
	const adminPathFails = "node supervisor: auth-monitor could not obtain a credential through the keyserver's impersonation path (the one the Kerberos gateway uses for admins)"
	for _, tc := range []struct {
		check   string
		name    string
		answers map[string]string // replacing healthy's
		want    string
	}{
		{"online", "node unknown", map[string]string{qUp: vector(without(ones(), "worker1")...)},
			"node worker1 (127.0.0.31): not known to Prometheus"},
		{"online", "exporter down", map[string]string{qUp: vector(with(ones(), "master2", "0")...)},
			"node master2 (127.0.0.22): offline: its node exporter does not answer"},
		{"online", "every problem named", map[string]string{qUp: vector(with(without(ones(), "worker1"), "supervisor", "0")...)},
			"node supervisor (127.0.0.10): offline: its node exporter does not answer; node worker1 (127.0.0.31): not known to Prometheus"},
		{"online", "SSH not tried", map[string]string{qSSH: vector(without(ones(), "master1")...)},
			"node master1 (127.0.0.21): auth-monitor has not tried SSH to it (is auth-monitor running?)"},
		{"online", "SSH login fails", map[string]string{qSSH: vector(with(ones(), "worker1", "0")...)},
			"node worker1 (127.0.0.31): SSH login with a keysystem certificate fails"},

		{"keysystem", "keyclient silent", map[string]string{qKeyclientReady: vector(without(ones(), "supervisor")...)},
			"node supervisor (127.0.0.10): keyclient does not answer"},
		{"keysystem", "keyclient not ready", map[string]string{qKeyclientReady: vector(with(ones(), "master1", "0")...)},
			"node master1 (127.0.0.21): keyclient lacks some credentials (see its /readyz)"},
		{"keysystem", "credential expiring", map[string]string{qExpiring: vector(
			sample{map[string]string{"node": "worker1", "credential": "kubernetes-worker"}, expiringIn2h},
			sample{map[string]string{"node": "master2", "credential": "etcd-server"}, "-60"},
		)}, "node master2: credential etcd-server expires in -1m0s; node worker1: credential kubernetes-worker expires in 2h0m0s"},
		{"keysystem", "admin path unknown", map[string]string{qAdminPath: vector()}, adminPathFails},
		{"keysystem", "admin path fails", map[string]string{qAdminPath: vector(at("supervisor", "0"))}, adminPathFails},
		{"keysystem", "admin path answered twice", map[string]string{qAdminPath: vector(at("supervisor", "1"), at("master1", "1"))}, adminPathFails},

		{"keygateway", "gateway check fails", map[string]string{qGateway: vector(at("supervisor", "0"))}, gatewayFails},
		{"keygateway", "gateway check unknown", map[string]string{qGateway: vector()}, gatewayFails},

		{"services", "service failed", map[string]string{qUnitState: vector(unitStates(c, map[string]string{"worker1/" + services.For(config.KindWorker)[0].Name: "failed"})...)},
			"node worker1: service " + services.For(config.KindWorker)[0].Name + " is failed, want active"},
		{"services", "service without state", map[string]string{qUnitState: vector(unitStates(c, map[string]string{"supervisor/" + services.For(config.KindSupervisor)[0].Name: ""})...)},
			"node supervisor: service " + services.For(config.KindSupervisor)[0].Name + " has no state (is the node's service manager reachable?)"},

		{"etcd", "no metrics", map[string]string{qEtcdLeader: vector(without(ones(config.KindMaster), "master1")...)},
			"node master1 (127.0.0.21): no etcd metrics (etcd or etcd-exporter is down)"},
		{"etcd", "no leader", map[string]string{qEtcdLeader: vector(with(ones(config.KindMaster), "master2", "0")...)},
			"node master2 (127.0.0.22): etcd member has no leader"},

		{"registry", "not scraped", map[string]string{qRegistryUp: vector()},
			"node supervisor (127.0.0.10): the registry is not scraped (is registry-front in the service map's supervisor services?)"},
		{"registry", "down", map[string]string{qRegistryUp: vector(at("supervisor", "0"))},
			"node supervisor (127.0.0.10): the registry homeworld.private does not answer over TLS (registry-front is down)"},
		{"registry", "storage down", map[string]string{qBackendUp: vector(at("supervisor", "0"))},
			"node supervisor (127.0.0.10): the registry behind homeworld.private does not answer (the registry service is down)"},

		{"kubernetes-init", "queue down", map[string]string{qQueueUp: vector(at("supervisor", "0"))},
			"node supervisor (127.0.0.10): setup-queue does not answer"},
		{"kubernetes-init", "refused", map[string]string{qQueueFailing: vector(
			sample{map[string]string{"node": "supervisor", "manifest": "dns-addon"}, "1"},
			sample{map[string]string{"node": "supervisor", "manifest": "broken"}, "1"},
		)}, "node supervisor: the setup queue cannot apply broken, dns-addon: the API refuses it (setup-queue's log on the supervisor says why)"},
		{"kubernetes-init", "API away", map[string]string{qQueueAway: vector(at("supervisor", "1"))},
			"node supervisor: the setup queue cannot reach the Kubernetes API"},
		{"kubernetes-init", "waiting", map[string]string{qQueuePending: vector(at("supervisor", "3"))},
			"node supervisor: 3 manifests wait in the setup queue"},

		{"pull", "monitor silent", map[string]string{qPulled: vector(without(pullSamples(c, "1"), "worker2")...)},
			"node worker2: pull-monitor has not reported (is it running?)"},
		{"pull", "registry down", map[string]string{
			qPulled:     vector(pullSamples(c, "0")...),
			qFailedStep: vector(sample{map[string]string{"node": "master1", "image": pullcheck, "step": "pull"}, "1"}),
		}, "node master1: pulling " + pullcheck + " from the registry homeworld.private fails (step pull; see pull-monitor's log on the node); " +
			"node master2: pulling " + pullcheck + " from the registry homeworld.private fails (step unknown; see pull-monitor's log on the node); " +
			"node master3: pulling " + pullcheck + " from the registry homeworld.private fails (step unknown; see pull-monitor's log on the node); " +
			"node worker1: pulling " + pullcheck + " from the registry homeworld.private fails (step unknown; see pull-monitor's log on the node); " +
			"node worker2: pulling " + pullcheck + " from the registry homeworld.private fails (step unknown; see pull-monitor's log on the node)"},
		{"pull", "run fails", map[string]string{
			qRan:        vector(withNode(pullSamples(c, "1"), "worker1", "0")...),
			qFailedStep: vector(sample{map[string]string{"node": "worker1", "image": pullcheck, "step": "compare"}, "1"}),
		}, "node worker1: running " + pullcheck + " fails (step compare; see pull-monitor's log on the node)"},

		{"kubernetes", "apiserver not scraped", map[string]string{qAPIServerUp: vector(without(ones(config.KindMaster), "master2")...)},
			"node master2 (127.0.0.22): kube-apiserver is not scraped"},
		{"kubernetes", "apiserver down", map[string]string{qAPIServerUp: vector(with(ones(config.KindMaster), "master1", "0")...)},
			"node master1 (127.0.0.21): kube-apiserver does not answer"},
		{"kubernetes", "node not registered", map[string]string{qNodeInfo: vector(without(ones(config.KindMaster, config.KindWorker), "worker1")...)},
			"node worker1 (127.0.0.31): not registered with Kubernetes"},
		{"kubernetes", "no Ready condition", map[string]string{qNodeReady: vector(without(ones(config.KindMaster, config.KindWorker), "master1")...)},
			"node master1 (127.0.0.21): has no Ready condition"},
		{"kubernetes", "not Ready", map[string]string{qNodeReady: vector(with(ones(config.KindMaster, config.KindWorker), "worker1", "0")...)},
			"node worker1 (127.0.0.31): is not Ready"},
		{"kubernetes", "master schedulable", map[string]string{qMasterTaint: vector(at("master1", "1"), at("master3", "1"))},
			"node master2: master is schedulable (no control-plane NoSchedule taint)"},
		{"kubernetes", "worker unschedulable", map[string]string{qMasterTaint: vector(append(ones(config.KindMaster), at("worker1", "1"))...)},
			"node worker1: worker is unschedulable"},
		{"kubernetes", "namespace missing", map[string]string{qNamespaces: vector(
			sample{map[string]string{"namespace": "default", "phase": "Active"}, "1"},
			sample{map[string]string{"namespace": "kube-system", "phase": "Active"}, "1"},
		)}, "2 of the namespaces default, kube-system, kube-public are active, want 3"},
		{"kubernetes", "taints and namespaces at once", map[string]string{
			qMasterTaint: vector(at("worker1", "1")),
			qNamespaces:  vector(),
		}, "0 of the namespaces default, kube-system, kube-public are active, want 3; node master1: master is schedulable (no control-plane NoSchedule taint); node master2: master is schedulable (no control-plane NoSchedule taint); node master3: master is schedulable (no control-plane NoSchedule taint); node worker1: worker is unschedulable"},
	} {
		t.Run(tc.check+"/"+tc.name, func(t *testing.T) {
			answers := maps.Clone(h)
			maps.Copy(answers, tc.answers)
			_, err := run(t, tc.check, answers)
			if err == nil || err.Error() != tc.want {
				t.Errorf("check %s = %v\nwant: %s", tc.check, err, tc.want)
			}
		})
	}
}

// TestChecksIgnoreNodesOfOtherKinds: etcd and apiserver answers count
// from masters only (healthy's Kubernetes answers already leave out the
// supervisor), so failing ones from other nodes change nothing.
func TestChecksIgnoreNodesOfOtherKinds(t *testing.T) {
	c := testConfig(t)
	answers := healthy(c)
	answers[qEtcdLeader] = vector(append(allAt(c, "1", config.KindMaster), at("worker1", "0"), at("supervisor", "0"))...)
	answers[qAPIServerUp] = vector(append(allAt(c, "1", config.KindMaster), at("worker1", "0"))...)
	for _, name := range []string{"etcd", "kubernetes"} {
		if _, err := run(t, name, answers); err != nil {
			t.Errorf("check %s: %v", name, err)
		}
	}
}

// TestChecksReportPrometheusErrors refuses, one at a time, every query a
// check sends: the check must fail with Prometheus's error, never pass.
func TestChecksReportPrometheusErrors(t *testing.T) {
	c := testConfig(t)
	for _, check := range Checks {
		f, _ := run(t, check.Name, healthy(c))
		for _, q := range f.queries(true) {
			t.Run(check.Name+"/"+q, func(t *testing.T) {
				answers := healthy(c)
				answers[q] = promError("execution", "query timed out")
				_, err := run(t, check.Name, answers)
				want := fmt.Sprintf("prometheus: query %q: execution: query timed out", q)
				if err == nil || err.Error() != want {
					t.Errorf("check %s = %v, want %s", check.Name, err, want)
				}
			})
		}
	}
}

const gatewayFails = "node supervisor: auth-monitor could not authenticate to the key gateway (is the keytab installed? spire setup keygateway; auth-monitor's log names the cause)"

// Without a realm there is no gateway: the check passes with a notice and
// asks Prometheus nothing.
func TestKeygatewayCheckWithoutKerberos(t *testing.T) {
	c := testConfig(t)
	c.Cluster.KerberosRealm = ""
	f, p := newFakeProm(t, healthy(c))
	check, _ := Find("keygateway")
	err := check.Run(context.Background(), p, c)
	if !Passed(err) || err == nil || !strings.Contains(err.Error(), "Kerberos is disabled") {
		t.Errorf("keygateway check without a realm: %v", err)
	}
	if q := f.queries(true); len(q) > 0 {
		t.Errorf("asked %q", q)
	}
}

func TestFindNamesTheChecks(t *testing.T) {
	if c, err := Find("etcd"); err != nil || c.Name != "etcd" {
		t.Errorf("Find(etcd) = %v, %v", c.Name, err)
	}
	_, err := Find("nope")
	if want := `no check named "nope" (checks: online, keysystem, keygateway, services, etcd, registry, kubernetes, kubernetes-init, pull, flannel, dns)`; err == nil || err.Error() != want {
		t.Errorf("Find(nope) = %v, want %s", err, want)
	}
}

const pullcheck = "homeworld.private/pullcheck:1"

// pullSamples is a pull-monitor gauge at value on every master and worker.
func pullSamples(c *config.Config, value string) []sample {
	var out []sample
	for _, n := range nodesOf(c, config.KindMaster, config.KindWorker) {
		out = append(out, sample{map[string]string{"node": n.Hostname, "image": pullcheck}, value})
	}
	return out
}

// withNode is with for pull-monitor's samples, which name their image.
func withNode(samples []sample, node, value string) []sample {
	return append(without(samples, node), sample{map[string]string{"node": node, "image": pullcheck}, value})
}

// A unit systemd restarted lately is a notice: verify names it, and the
// check still passes.
func TestServicesNoticesRestarts(t *testing.T) {
	c := testConfig(t)
	answers := healthy(c)
	answers[qRestarts] = vector(sample{map[string]string{"node": "worker1", "name": "kube-proxy.service"}, "2"})
	_, err := run(t, "services", answers)
	if err == nil || !Passed(err) {
		t.Fatalf("services with a restart: %v (passed %v)", err, Passed(err))
	}
	want := "node worker1: kube-proxy.service restarted 2 times in the last 15m0s (systemd brought it back; journalctl -u kube-proxy.service says why)"
	if err.Error() != want {
		t.Errorf("notice:\n%s\nwant:\n%s", err, want)
	}
	if Passed(errors.New("a failure")) {
		t.Error("a plain error counts as passed")
	}
}
