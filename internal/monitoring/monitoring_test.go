package monitoring

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/dnsmonitor"
	"homeworld.dev/homeworld/internal/etcdexporter"
	"homeworld.dev/homeworld/internal/flannelmonitor"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/setupqueue"
)

// TestPromtoolAcceptsConfigAndRules has Prometheus's own checker read what
// we generate, for real hosts and for the virtual cluster.
func TestPromtoolAcceptsConfigAndRules(t *testing.T) {
	c, _, err := config.Parse("setup.yaml", config.Template)
	if err != nil {
		t.Fatal(err)
	}
	for _, virtual := range []bool{false, true} {
		dir := t.TempDir()
		files := map[string]string{"ca.pem": "", "kube.pem": "", "sup.pem": "", "sup.key": ""}
		for f := range files {
			os.WriteFile(filepath.Join(dir, f), nil, 0o600)
		}
		rules := filepath.Join(dir, "rules.yaml")
		os.WriteFile(rules, []byte(Rules()), 0o644)
		lateEvery, bulkEvery := time.Duration(0), time.Duration(0)
		if virtual {
			lateEvery, bulkEvery = 2*time.Second, 30*time.Second
		}
		conf, err := PrometheusConfig(c, Options{
			Virtual: virtual, ScrapeInterval: 15 * time.Second, LateInterval: lateEvery, BulkInterval: bulkEvery, RulesFile: rules,
			ClusterCA: filepath.Join(dir, "ca.pem"), KubeCA: filepath.Join(dir, "kube.pem"),
			SupervisorCert: filepath.Join(dir, "sup.pem"), SupervisorKey: filepath.Join(dir, "sup.key"),
		})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "prometheus.yaml")
		os.WriteFile(path, []byte(conf), 0o644)
		out, err := exec.Command("promtool", "check", "config", path).CombinedOutput()
		if err != nil {
			t.Errorf("promtool check config: %v\n%s\n%s", err, out, conf)
		}
		if !strings.Contains(conf, "node: worker2") || !strings.Contains(conf, services.EtcdExporter.Addr("192.0.2.21")) {
			t.Errorf("config lacks node targets:\n%s", conf)
		}
		if got := strings.Contains(conf, "job_name: "+services.NodeSupervisor.Job); got != virtual {
			t.Errorf("virtual %v: service-state job present %v; real hosts get service states from the node exporter", virtual, got)
		}
		var doc struct {
			Jobs []struct {
				Name     string `yaml:"job_name"`
				Interval string `yaml:"scrape_interval"`
			} `yaml:"scrape_configs"`
		}
		if err := yaml.Unmarshal([]byte(conf), &doc); err != nil {
			t.Fatal(err)
		}
		// Real hosts scrape every job at the global interval; the
		// virtual cluster scrapes the late ones sooner and the bulk ones
		// later.
		late, bulk := 0, 0
		for _, j := range doc.Jobs {
			want := ""
			if slices.Contains(LateJobs(), j.Name) {
				late++
				if virtual {
					want = "2s"
				}
			}
			if slices.Contains(BulkJobs(), j.Name) {
				bulk++
				if virtual {
					want = "30s"
				}
			}
			if j.Interval != want {
				t.Errorf("virtual %v: job %s scraped every %q, want %q (the global interval when empty)", virtual, j.Name, j.Interval, want)
			}
		}
		if virtual && late != len(LateJobs()) {
			t.Errorf("virtual: %d of the late jobs %v in the config", late, LateJobs())
		}
		if bulk != len(BulkJobs()) {
			t.Errorf("virtual %v: %d of the bulk jobs %v in the config", virtual, bulk, BulkJobs())
		}
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rules, []byte(Rules()), 0o644)
	if out, err := exec.Command("promtool", "check", "rules", rules).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}

// TestRulesReadTheSetupQueuesMetric: the alert watches the series
// setup-queue serves.
func TestRulesReadTheSetupQueuesMetric(t *testing.T) {
	if want := "expr: " + setupqueue.MetricFailing + " == 1\n"; !strings.Contains(Rules(), want) {
		t.Errorf("the rules lack %q", want)
	}
}

// TestEveryMetricsEndpointIsScraped: an endpoint that serves metrics has a
// job, the job is in the generated configuration with the endpoint's path
// and port on every node of the service's kinds; every add-on is read
// through the first master's apiserver, as the supervisor, keeping its
// labels; and no job name is used twice.
func TestEveryMetricsEndpointIsScraped(t *testing.T) {
	c, _, err := config.Parse("setup.yaml", config.Template)
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]Scraped{}
	for _, s := range Jobs(Options{Virtual: true}) {
		if _, dup := jobs[s.Endpoint.Job]; dup {
			t.Errorf("job %s scrapes two endpoints", s.Endpoint.Job)
		}
		jobs[s.Endpoint.Job] = s
	}
	addons := map[string]Addon{}
	for _, a := range Addons {
		if _, dup := jobs[a.Job]; dup {
			t.Errorf("add-on job %s is also a node job", a.Job)
		}
		if _, dup := addons[a.Job]; dup {
			t.Errorf("add-on job %s is used twice", a.Job)
		}
		addons[a.Job] = a
	}
	for _, e := range services.Endpoints() {
		if (e.MetricsPath == "") != (e.Job == "") {
			t.Errorf("endpoint :%d has metrics path %q but job %q: both or neither", e.Port, e.MetricsPath, e.Job)
		}
		if e.Job != "" && jobs[e.Job].Endpoint != e {
			t.Errorf("endpoint :%d (job %s) is not scraped", e.Port, e.Job)
		}
	}
	conf, err := PrometheusConfig(c, Options{Virtual: true, ScrapeInterval: time.Second, KubeCA: "kube.pem", SupervisorCert: "sup.pem", SupervisorKey: "sup.key"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Scrape []struct {
			Job    string            `yaml:"job_name"`
			Path   string            `yaml:"metrics_path"`
			Scheme string            `yaml:"scheme"`
			Honor  bool              `yaml:"honor_labels"`
			TLS    map[string]string `yaml:"tls_config"`
			Drop   []map[string]any  `yaml:"metric_relabel_configs"`
			Static []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(conf), &doc); err != nil {
		t.Fatal(err)
	}
	apiserver := services.APIServer.Addr(c.NodesOf(config.KindMaster)[0].IP)
	for _, j := range doc.Scrape {
		if a, ok := addons[j.Job]; ok {
			if len(j.Static) != 1 || !slices.Equal(j.Static[0].Targets, []string{apiserver}) || j.Path != a.Path() ||
				j.Scheme != "https" || !j.Honor || fmt.Sprint(j.TLS) != "map[ca_file:kube.pem cert_file:sup.pem key_file:sup.key]" {
				t.Errorf("add-on job %s: %+v, want %s%s over TLS as the supervisor, honoring labels", j.Job, j, apiserver, a.Path())
			}
			delete(addons, j.Job)
			continue
		}
		s, ok := jobs[j.Job]
		if !ok {
			t.Errorf("job %s is in the configuration but not derived from the map", j.Job)
			continue
		}
		var want []string
		for _, n := range c.Nodes {
			if slices.Contains(s.Kinds, n.Kind) {
				want = append(want, s.Endpoint.Addr(n.IP))
			}
		}
		var got []string
		for _, st := range j.Static {
			got = append(got, st.Targets...)
		}
		if !slices.Equal(got, want) || j.Path != s.Endpoint.MetricsPath {
			t.Errorf("job %s scrapes %v at %q, want %v at %q", j.Job, got, j.Path, want, s.Endpoint.MetricsPath)
		}
		// Series are dropped where they were most of the series, as
		// the endpoint says.
		wantDrop := "[]"
		if e := s.Endpoint; e.Drop != "" {
			wantDrop = "[map[action:drop regex:" + e.Drop + " source_labels:[__name__]]]"
		}
		if fmt.Sprint(j.Drop) != wantDrop {
			t.Errorf("job %s: metric relabelling %v, want %s", j.Job, j.Drop, wantDrop)
		}
		if drops := s.Endpoint.Drop != ""; drops != (j.Job == services.APIServer.Job || j.Job == services.EtcdExporter.Job) {
			t.Errorf("job %s drops series: %v, want only the apiservers' and etcd's", j.Job, drops)
		}
		delete(jobs, j.Job)
	}
	for name := range jobs {
		t.Errorf("job %s is missing from the configuration", name)
	}
	for name := range addons {
		t.Errorf("add-on job %s is missing from the configuration", name)
	}
}

// TestDropsNothingRead: what Prometheus drops at scrape matches the
// histogram buckets and inventories it is for, and no metric the alert
// rules or etcd's checks read.
func TestDropsNothingRead(t *testing.T) {
	read := append(regexp.MustCompile(`[a-z_]+_[a-z_]+`).FindAllString(Rules(), -1), etcdexporter.Families...)
	read = append(read, "apiserver_request_duration_seconds_count", "etcd_disk_wal_fsync_duration_seconds_sum", "grpc_server_started_total",
		// Kept for operators: what each resource holds and how the API is used.
		"apiserver_resource_objects", "apiserver_request_total", "apiserver_storage_objects", "etcd_request_errors_total")
	dropped := map[services.Endpoint][]string{
		services.APIServer: {"apiserver_request_duration_seconds_bucket", "kubernetes_feature_enabled",
			"apiserver_storage_list_fetched_objects_total", "apiserver_watch_cache_events_dispatched_total", "watch_cache_capacity",
			"etcd_bookmark_total", "apiserver_selfrequest_total"},
		services.EtcdExporter: {"etcd_disk_wal_fsync_duration_seconds_bucket", "grpc_server_handled_total", "etcd_server_feature_enabled"},
	}
	for e, want := range dropped {
		// Prometheus anchors a relabelling regex at both ends.
		re := regexp.MustCompile("^(?:" + e.Drop + ")$")
		for _, name := range want {
			if !re.MatchString(name) {
				t.Errorf("job %s keeps %s; Drop %q should match it", e.Job, name, e.Drop)
			}
		}
		for _, name := range read {
			if re.MatchString(name) {
				t.Errorf("job %s drops %s, which Homeworld reads", e.Job, name)
			}
		}
	}
}

// TestAddonsNameTheMonitorsServices: the jobs read the Services the
// monitors' manifests make, at the port they name, and the spec's path.
func TestAddonsNameTheMonitorsServices(t *testing.T) {
	want := []Addon{
		{"flannel-monitor", flannelmonitor.Namespace, flannelmonitor.Service, flannelmonitor.MetricsPort},
		{"dns-monitor", dnsmonitor.Namespace, dnsmonitor.Name, dnsmonitor.MetricsPort},
	}
	if !slices.Equal(Addons, want) {
		t.Errorf("Addons = %+v, want %+v", Addons, want)
	}
	if p := Addons[0].Path(); p != "/api/v1/namespaces/kube-system/services/flannel-monitor-collector:metrics/proxy/metrics" {
		t.Errorf("flannel-monitor's path %s", p)
	}
}

// TestBulkJobsAreNotLate: a job the proof waits on is never one scraped
// less often.
func TestBulkJobsAreNotLate(t *testing.T) {
	for _, j := range BulkJobs() {
		if slices.Contains(LateJobs(), j) {
			t.Errorf("%s is both a late and a bulk job", j)
		}
	}
}
