//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/launch"
	"homeworld.dev/homeworld/internal/procstat"
	"homeworld.dev/homeworld/internal/services"
)

// leanMonitoring: what keeps a small cluster small holds on the running
// cluster. Prometheus keeps the apiservers' and etcd's request counts and
// latency sums but none of their histogram buckets or inventories, the
// apiservers' diagnostic histograms are off at the source, and the services
// with a Go memory limit in the service map run with it and, unless it holds
// them, with services.GoGC.
func (v *virtCluster) leanMonitoring(t *testing.T) {
	sup := v.cfg.Supervisor().IP
	query := func(q string) (int, error) {
		body, err := get(services.Prometheus.URL(sup, "/api/v1/query?query="+url.QueryEscape(q)))
		if err != nil {
			return 0, err
		}
		var r struct {
			Status string
			Data   struct{ Result []json.RawMessage }
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil || r.Status != "success" {
			return 0, fmt.Errorf("query %s: %v: %s", q, err, body)
		}
		return len(r.Data.Result), nil
	}
	job := services.APIServer.Job
	// Present once every apiserver and etcd member was scraped.
	waitFor(t, "Prometheus to hold the apiservers' and etcd's latency sums", 60*time.Second, func() error {
		for _, q := range []string{`apiserver_request_duration_seconds_count{job="` + job + `"}`,
			`etcd_disk_wal_fsync_duration_seconds_count{job="` + services.EtcdExporter.Job + `"}`,
			`grpc_server_started_total{job="` + services.EtcdExporter.Job + `"}`} {
			if n, err := query(q); err != nil || n == 0 {
				return fmt.Errorf("no %s series (%v)", q, err)
			}
		}
		return nil
	})
	for q, what := range map[string]string{
		`{job=~"` + job + `|` + services.EtcdExporter.Job + `",__name__=~".+_bucket"}`:                            "histogram bucket series of the apiservers and etcd",
		`{job="` + job + `",__name__=~"(` + strings.Join(launch.APIServerDiagnosticHistograms, "|") + `)_count"}`: "the apiservers' disabled diagnostic histograms",
		`kubernetes_feature_enabled{job="` + job + `"}`:                                                           "the apiservers' feature gates",
		`grpc_server_handled_total{job="` + services.EtcdExporter.Job + `"}`:                                      "etcd's gRPC outcomes per method and code",
	} {
		if n, err := query(q); err != nil || n != 0 {
			t.Errorf("Prometheus holds %d series of %s (%s), want none (err %v)", n, what, q, err)
		}
	}

	// Pods' veth devices are not reported by the node exporters (about
	// 40 series each, new with every sandbox), the nodes' own are.
	if n, err := query(`{job="` + services.NodeExporter.Job + `",device=~"veth.+"}`); err != nil || n != 0 {
		t.Errorf("Prometheus holds %d series of pods' veth devices, want none (err %v)", n, err)
	}
	if n, err := query(`node_network_up{job="` + services.NodeExporter.Job + `",device="eth0"}`); err != nil || n != len(v.cfg.Nodes) {
		t.Errorf("Prometheus holds node_network_up for %d nodes' eth0, want all %d (err %v)", n, len(v.cfg.Nodes), err)
	}
	// The running Prometheus cuts its head into blocks of launch's span,
	// so its head holds at most one and a half of them.
	flags, err := get(services.Prometheus.URL(sup, "/api/v1/status/flags"))
	if err != nil || !strings.Contains(flags, `"storage.tsdb.min-block-duration":"`+launch.PrometheusHeadBlock+`"`) {
		t.Errorf("Prometheus's flags (err %v) lack storage.tsdb.min-block-duration %s:\n%s", err, launch.PrometheusHeadBlock, flags)
	}

	nodes := v.status(t)
	checked := 0
	for _, n := range nodes {
		for _, s := range n.Services {
			svc := services.MustGet(s.Name) // the node supervisor reports map services only
			if svc.GoMemLimit == 0 || s.PID == 0 {
				continue
			}
			env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", s.PID))
			if err != nil {
				t.Errorf("%s on %s: %v", s.Name, n.Hostname, err)
				continue
			}
			wants := []string{fmt.Sprintf("GOMEMLIMIT=%dMiB", svc.GoMemLimit)}
			if !svc.HeldByLimit {
				wants = append(wants, fmt.Sprintf("GOGC=%d", services.GoGC))
			}
			vars := "\x00" + string(env) + "\x00"
			for _, want := range wants {
				if !strings.Contains(vars, "\x00"+want+"\x00") {
					t.Errorf("%s on %s runs without %s", s.Name, n.Hostname, want)
				}
			}
			checked++
		}
	}
	if want := len(v.cfg.NodesOf(config.KindMaster)); checked < want {
		t.Errorf("checked the memory limit of %d services, want at least one per master", checked)
	}

	// The memory watch samples the running cluster: a header naming every
	// node, a line per sample with a total in the range a cluster of this
	// size holds, and the summary.
	watch := strings.Split(strings.TrimSpace(v.spire(t, "virt", "status", "--every", "1s", "--for", "2s")), "\n")
	if len(watch) < 5 || !strings.HasPrefix(watch[len(watch)-2], "cluster: ") && !strings.HasPrefix(watch[len(watch)-1], "cluster: ") {
		t.Errorf("spire virt status --every 1s --for 2s:\n%s", strings.Join(watch, "\n"))
	} else {
		if head := strings.Fields(watch[0]); len(head) != 2+len(nodes)+3 || head[2] != nodes[0].Hostname {
			t.Errorf("memory watch header %q, want ELAPSED CLUSTER and the %d nodes", watch[0], len(nodes))
		}
		for _, line := range watch[1:4] {
			f := strings.Fields(line)
			total, err := strconv.Atoi(f[1])
			if len(f) != 2+len(nodes) || err != nil || total < 500 || total > 8000 {
				t.Errorf("memory watch sample %q: want the elapsed time, a cluster total in MiB and one figure per node", line)
			}
		}
	}

	// Homeworld's own agents stay small on every node (issue 17: at most
	// 20 MB resident each). The largest are about 16-17 MB.
	seen := map[string]int{}
	largest := map[string]int64{}
	for _, a := range agentsResident(t) {
		seen[a.comm]++
		largest[a.comm] = max(largest[a.comm], a.rss)
		if a.rss > agentRSSBudget {
			t.Errorf("%s (pid %d) holds %.1f MB resident, over the %.0f MB budget of Homeworld's own agents",
				a.comm, a.pid, float64(a.rss)/1e6, float64(agentRSSBudget)/1e6)
		}
	}
	var figures []string
	for _, comm := range homeworldAgents {
		if largest[comm] > 0 {
			figures = append(figures, fmt.Sprintf("%s %.1f", comm, float64(largest[comm])/1e6))
		}
	}
	t.Logf("measured: largest resident memory of each Homeworld agent, MB: %s", strings.Join(figures, ", "))
	for _, comm := range []string{"keyserver", "keyclient", "pull-monitor", "flannel-monitor", "dns-monitor"} {
		if seen[comm] == 0 {
			t.Errorf("found no %s process to measure (measured %v)", comm, seen)
		}
	}
}

// agentRSSBudget is what each of Homeworld's own agents may hold resident.
const agentRSSBudget = 20_000_000

// homeworldAgents are the long-running programs of cmd/ that run on nodes
// or in their pods, by the name the kernel gives their processes (at most
// 15 characters). Not the CLIs, the CNI plugin (it runs per pod and
// exits) or virtnode (the virtual cluster's stand-in for a machine).
var homeworldAgents = []string{"keyserver", "keyclient", "keygateway", "user-grant", "auth-monitor",
	"setup-queue", "registry-front", "pull-monitor", "etcd-metrics-ex", "flannel-monitor", "dns-monitor"}

type agentProcess struct {
	comm string
	pid  int
	rss  int64 // bytes
}

// agentsResident reads VmRSS of every process of homeworldAgents on this
// machine: the test's cluster is the only one, and pods' processes are
// found this way too.
func agentsResident(t *testing.T) []agentProcess {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	var out []agentProcess
	for _, dir := range dirs {
		comm, err := os.ReadFile(dir + "/comm")
		if err != nil || !slices.Contains(homeworldAgents, strings.TrimSpace(string(comm))) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(dir))
		rss, err := procstat.Resident(pid)
		var gone *fs.PathError
		if errors.As(err, &gone) {
			continue // it ended
		}
		if err != nil {
			t.Fatal(err)
		}
		if rss == 0 {
			continue // exited, not yet reaped: it holds nothing
		}
		out = append(out, agentProcess{strings.TrimSpace(string(comm)), pid, rss})
	}
	return out
}
