package dnsmonitor

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"homeworld.dev/homeworld/internal/config"
)

type object struct {
	Kind                         string
	Metadata                     struct{ Name, Namespace string }
	AutomountServiceAccountToken *bool `yaml:"automountServiceAccountToken"`
	Spec                         struct {
		Replicas *int
		Ports    []struct {
			Name       string
			Port       int
			TargetPort string `yaml:"targetPort"`
		}
		Template struct {
			Spec struct {
				ServiceAccountName string `yaml:"serviceAccountName"`
				SecurityContext    struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				Containers []struct {
					Image string
					Args  []string
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

// TestManifest: a service account without token or role, one replica
// checking the API's and the DNS's Service names at setup.yaml's
// addresses (and the upstream name when given), unprivileged, and a
// Service whose metrics port leads to it.
func TestManifest(t *testing.T) {
	c, _, err := config.Parse("setup.yaml", config.Template)
	if err != nil {
		t.Fatal(err)
	}
	for _, upstream := range [][]Expectation{nil, {{"upstream-check.homeworld.test", netip.MustParseAddr("198.51.100.53")}}} {
		m, err := Manifest(c, Options{Upstream: upstream})
		if err != nil {
			t.Fatal(err)
		}
		var objs []object
		var kinds []string
		for _, doc := range strings.Split(m, "\n---\n") {
			var o object
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatalf("invalid YAML: %v\n%s", err, doc)
			}
			objs = append(objs, o)
			kinds = append(kinds, o.Kind+"/"+o.Metadata.Namespace+"/"+o.Metadata.Name)
		}
		if want := []string{"ServiceAccount/kube-system/dns-monitor", "Deployment/kube-system/dns-monitor", "Service/kube-system/dns-monitor"}; !slices.Equal(kinds, want) {
			t.Fatalf("objects %v, want %v (and no role)", kinds, want)
		}
		if a := objs[0].AutomountServiceAccountToken; a == nil || *a {
			t.Errorf("the service account's token is mounted")
		}
		d := objs[1].Spec
		ctr := d.Template.Spec.Containers[0]
		want := []string{
			"kubernetes.default.svc." + c.Cluster.InternalDomain + "=" + c.Addresses.ServiceAPI,
			"kube-dns.kube-system.svc." + c.Cluster.InternalDomain + "=" + c.Addresses.ServiceDNS,
		}
		if upstream != nil {
			want = append([]string{"--upstream-check=upstream-check.homeworld.test=198.51.100.53"}, want...)
		}
		if !slices.Equal(ctr.Args, want) {
			t.Errorf("args %q, want %q", ctr.Args, want)
		}
		if *d.Replicas != 1 || ctr.Image != Image || !d.Template.Spec.SecurityContext.RunAsNonRoot || d.Template.Spec.ServiceAccountName != Name {
			t.Errorf("deployment %+v", d)
		}
		if len(ctr.Ports) != 1 || ctr.Ports[0].ContainerPort != Port || Port < 1024 {
			t.Errorf("container ports %+v", ctr.Ports)
		}
		// Behind the Service Prometheus reads: in it within a second of
		// answering, out of it only after 15 s of failures.
		if p := ctr.ReadinessProbe; p.PeriodSeconds != 1 || p.PeriodSeconds*p.FailureThreshold != 15 {
			t.Errorf("readiness probe every %d s, unready after %d failures; want every second, unready after 15 s", p.PeriodSeconds, p.FailureThreshold)
		}
		svc := objs[2].Spec
		if len(svc.Ports) != 1 || svc.Ports[0].Name != MetricsPort || svc.Ports[0].TargetPort != ctr.Ports[0].Name {
			t.Errorf("the Service does not lead to the monitor's metrics: %+v", svc.Ports)
		}
	}
}

// TestImageIsBuilt: scripts/build makes the image the manifest names.
func TestImageIsBuilt(t *testing.T) {
	build, err := os.ReadFile(filepath.Join("..", "..", "scripts", "build"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(build), "dns-monitor="+Image+`="$out/dns-monitor"=/dns-monitor`) {
		t.Errorf("scripts/build does not build %s from the dns-monitor binary", Image)
	}
}
