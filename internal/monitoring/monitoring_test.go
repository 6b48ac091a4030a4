package monitoring

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/config"
)

// TestPromtoolAcceptsConfigAndRules has Prometheus's own checker read what
// we generate, for real hosts and for the virtual cluster.
func TestPromtoolAcceptsConfigAndRules(t *testing.T) {
	c, _, err := config.Parse("setup.yaml", config.Template)
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{NodeExporterPort, 9107} {
		dir := t.TempDir()
		files := map[string]string{"ca.pem": "", "kube.pem": "", "sup.pem": "", "sup.key": ""}
		for f := range files {
			os.WriteFile(filepath.Join(dir, f), nil, 0o600)
		}
		rules := filepath.Join(dir, "rules.yaml")
		os.WriteFile(rules, []byte(Rules()), 0o644)
		conf, err := PrometheusConfig(c, Options{
			ServiceStatesPort: port, ScrapeInterval: 15 * time.Second, RulesFile: rules,
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
		if !strings.Contains(conf, "node: worker2") || !strings.Contains(conf, "192.0.2.21:9101") {
			t.Errorf("config lacks node targets:\n%s", conf)
		}
		if port == NodeExporterPort && strings.Contains(conf, "job_name: node-services") {
			t.Error("a separate service-state job on real hosts")
		}
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rules, []byte(Rules()), 0o644)
	if out, err := exec.Command("promtool", "check", "rules", rules).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}
