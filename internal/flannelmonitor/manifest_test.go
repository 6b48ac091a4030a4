package flannelmonitor

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"homeworld.dev/homeworld/internal/config"
)

type object struct {
	Kind     string
	Metadata struct{ Name, Namespace string }
	Rules    []struct {
		APIGroups []string `yaml:"apiGroups"`
		Resources []string
		Verbs     []string
	}
	Spec struct {
		Replicas *int
		Ports    []struct {
			Name       string
			Port       int
			TargetPort string `yaml:"targetPort"`
		}
		Selector map[string]any
		Template struct {
			Metadata struct{ Labels map[string]string }
			Spec     struct {
				ServiceAccountName string `yaml:"serviceAccountName"`
				Tolerations        []struct{ Key, Operator, Effect string }
				SecurityContext    struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
					RunAsUser    int  `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				Containers []struct {
					Image string
					Args  []string
					Env   []struct{ Name string }
					Ports []struct {
						Name          string
						ContainerPort int `yaml:"containerPort"`
					}
					ReadinessProbe struct {
						PeriodSeconds    int `yaml:"periodSeconds"`
						FailureThreshold int `yaml:"failureThreshold"`
					} `yaml:"readinessProbe"`
				}
			}
		}
	}
}

func objects(t *testing.T, manifest string) []object {
	t.Helper()
	var out []object
	for _, doc := range strings.Split(manifest, "\n---\n") {
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("invalid YAML: %v\n%s", err, doc)
		}
		out = append(out, o)
	}
	return out
}

func testConfig(t *testing.T) *config.Config {
	c, _, err := config.Parse("setup.yaml", config.Template)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestManifest: the objects of spec §5.2, the service account allowed
// exactly to read pods here and list nodes, every pod unprivileged on an
// unprivileged port, on every node, masters included.
func TestManifest(t *testing.T) {
	c := testConfig(t)
	m, err := Manifest(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	objs := objects(t, m)
	var names []string
	for _, o := range objs {
		names = append(names, o.Kind+"/"+o.Metadata.Name)
		if o.Kind != "ClusterRole" && o.Kind != "ClusterRoleBinding" && o.Metadata.Namespace != Namespace {
			t.Errorf("%s/%s is in namespace %q", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
		}
	}
	want := []string{"ServiceAccount/flannel-monitor", "Role/flannel-monitor", "RoleBinding/flannel-monitor",
		"ClusterRole/flannel-monitor-topology", "ClusterRoleBinding/flannel-monitor-topology",
		"DaemonSet/kube-flannel-monitor-ds",
		"Deployment/flannel-monitor-collector", "Service/flannel-monitor-collector"}
	if !slices.Equal(names, want) {
		t.Fatalf("objects %v, want %v", names, want)
	}
	rules := func(o object) string { return fmt.Sprint(o.Rules) }
	if got := rules(objs[1]); got != "[{[] [pods] [get list]}]" {
		t.Errorf("the Role allows %s, want get and list pods only", got)
	}
	if got := rules(objs[3]); got != "[{[] [nodes] [list]}]" {
		t.Errorf("the ClusterRole allows %s, want list nodes only", got)
	}
	apps := map[string]string{}
	for _, o := range objs[5:7] {
		s := o.Spec.Template.Spec
		app := o.Spec.Template.Metadata.Labels["app"]
		ctr := s.Containers[0]
		apps[app] = o.Kind
		if s.ServiceAccountName != Account || !s.SecurityContext.RunAsNonRoot || s.SecurityContext.RunAsUser == 0 {
			t.Errorf("%s: account %q, security %+v", o.Metadata.Name, s.ServiceAccountName, s.SecurityContext)
		}
		if len(s.Tolerations) != 1 || s.Tolerations[0].Key != controlPlaneTaint || s.Tolerations[0].Effect != "NoSchedule" {
			t.Errorf("%s does not tolerate the masters' taint: %+v", o.Metadata.Name, s.Tolerations)
		}
		if ctr.Image != Image || len(ctr.Ports) != 1 || ctr.Ports[0].ContainerPort != Port || Port < 1024 {
			t.Errorf("%s: image %s, ports %+v", o.Metadata.Name, ctr.Image, ctr.Ports)
		}
		if len(ctr.Env) != 2 || ctr.Env[0].Name != "POD_NAME" || ctr.Env[1].Name != "POD_NAMESPACE" {
			t.Errorf("%s: env %+v", o.Metadata.Name, ctr.Env)
		}
		if o.Kind == "Deployment" && (o.Spec.Replicas == nil || *o.Spec.Replicas != 1) {
			t.Errorf("%s: replicas %v, want 1", o.Metadata.Name, o.Spec.Replicas)
		}
		// Every pod is unready after 15 s of failed probes; the collector,
		// behind the Service Prometheus reads, is probed every second so it
		// joins the Service within a second of answering.
		period := 5
		if o.Kind == "Deployment" {
			period = 1
		}
		if p := ctr.ReadinessProbe; p.PeriodSeconds != period || p.PeriodSeconds*p.FailureThreshold != 15 {
			t.Errorf("%s: readiness probe every %d s, unready after %d failures; want every %d s, unready after 15 s", o.Metadata.Name, p.PeriodSeconds, p.FailureThreshold, period)
		}
	}
	if want := map[string]string{MonitorApp: "DaemonSet", CollectorApp: "Deployment"}; fmt.Sprint(apps) != fmt.Sprint(want) {
		t.Errorf("apps %v, want %v", apps, want)
	}
	if args := objs[5].Spec.Template.Spec.Containers[0].Args; !slices.Equal(args, []string{"monitor", "--pod-network", c.Addresses.CIDRPods}) {
		t.Errorf("monitor args %q", args)
	}
	svc := objs[7]
	collectorPort := objs[6].Spec.Template.Spec.Containers[0].Ports[0].Name
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != MetricsPort || svc.Spec.Ports[0].TargetPort != collectorPort || fmt.Sprint(svc.Spec.Selector) != "map[app:"+CollectorApp+"]" {
		t.Errorf("the Service does not lead to the collector's %s port: %+v", collectorPort, svc.Spec)
	}
}

// TestImageIsBuilt: scripts/build makes the image the manifest names,
// from the flannel-monitor binary.
func TestImageIsBuilt(t *testing.T) {
	build, err := os.ReadFile(filepath.Join("..", "..", "scripts", "build"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(build), "flannel-monitor="+Image+`="$out/flannel-monitor"=/flannel-monitor`) {
		t.Errorf("scripts/build does not build %s from the flannel-monitor binary", Image)
	}
}

// TestManifestInterval: a set interval reaches the monitors and the
// collector.
func TestManifestInterval(t *testing.T) {
	c := testConfig(t)
	m, err := Manifest(c, Options{Interval: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(m, "--interval, 5s"); n != 2 {
		t.Errorf("--interval 5s appears %d times, want 2 (monitor, collector):\n%s", n, m)
	}
	if plain, _ := Manifest(c, Options{}); strings.Contains(plain, "--interval") {
		t.Error("the default manifest sets an interval")
	}
}
