package dnsaddon

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"homeworld.dev/homeworld/internal/config"
)

func setup(t *testing.T, edit func(string) string) *config.Config {
	t.Helper()
	text := string(config.Template)
	if edit != nil {
		text = edit(text)
	}
	c, _, err := config.Parse("setup.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The fields of the objects the tests look at, as Kubernetes names them.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name, Namespace string
		Labels          map[string]string
	}
	Rules []struct {
		APIGroups []string `yaml:"apiGroups"`
		Resources []string
		Verbs     []string
	}
	RoleRef  struct{ Kind, Name string } `yaml:"roleRef"`
	Subjects []struct{ Kind, Name, Namespace string }
	Data     map[string]string
	Spec     struct {
		Replicas  int
		ClusterIP string `yaml:"clusterIP"`
		Selector  map[string]any
		Ports     []struct {
			Name       string
			Port       int
			TargetPort string `yaml:"targetPort"`
			Protocol   string
		}
		Template struct {
			Metadata struct{ Labels map[string]string }
			Spec     podSpec
		}
	}
}

type podSpec struct {
	ServiceAccountName string `yaml:"serviceAccountName"`
	DNSPolicy          string `yaml:"dnsPolicy"`
	Tolerations        []any
	Spread             []struct {
		MaxSkew           int    `yaml:"maxSkew"`
		TopologyKey       string `yaml:"topologyKey"`
		WhenUnsatisfiable string `yaml:"whenUnsatisfiable"`
	} `yaml:"topologySpreadConstraints"`
	SecurityContext struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
		RunAsUser    int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	Containers []struct {
		Image string
		Args  []string
		Ports []struct {
			Name          string
			ContainerPort int `yaml:"containerPort"`
			Protocol      string
		}
		Resources struct {
			Requests, Limits map[string]string
		}
		LivenessProbe  probe `yaml:"livenessProbe"`
		ReadinessProbe probe `yaml:"readinessProbe"`
	}
}

type probe struct {
	HTTPGet struct{ Path, Port string } `yaml:"httpGet"`
}

func parse(t *testing.T, manifest string) map[string]object {
	t.Helper()
	objs := map[string]object{}
	dec := yaml.NewDecoder(strings.NewReader(manifest))
	for {
		var o object
		if err := dec.Decode(&o); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("manifest does not parse: %v", err)
		}
		objs[o.Kind] = o
	}
}

func TestManifestObjects(t *testing.T) {
	c := setup(t, nil)
	m, err := Manifest(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	objs := parse(t, m)
	for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Service"} {
		o, ok := objs[kind]
		if !ok {
			t.Fatalf("no %s in the manifest", kind)
		}
		if o.Metadata.Labels["app.kubernetes.io/managed-by"] != "homeworld" {
			t.Errorf("%s %s is not labelled as Homeworld's", kind, o.Metadata.Name)
		}
		if kind != "ClusterRole" && kind != "ClusterRoleBinding" && o.Metadata.Namespace != Namespace {
			t.Errorf("%s in namespace %q, want %s", kind, o.Metadata.Namespace, Namespace)
		}
	}
	if len(objs) != 6 {
		t.Errorf("%d kinds of object, want 6", len(objs))
	}

	svc := objs["Service"]
	if svc.Metadata.Name != "kube-dns" || svc.Spec.ClusterIP != c.Addresses.ServiceDNS {
		t.Errorf("Service %s at %s, want kube-dns at service-dns %s", svc.Metadata.Name, svc.Spec.ClusterIP, c.Addresses.ServiceDNS)
	}
	if svc.Spec.Selector[AppLabel] != AppLabelValue {
		t.Errorf("Service selects %v", svc.Spec.Selector)
	}

	dep := objs["Deployment"]
	pod := dep.Spec.Template.Spec
	if dep.Spec.Replicas != 2 {
		t.Errorf("%d replicas, want 2", dep.Spec.Replicas)
	}
	if dep.Spec.Template.Metadata.Labels[AppLabel] != AppLabelValue {
		t.Errorf("pods labelled %v: the Service would not find them", dep.Spec.Template.Metadata.Labels)
	}
	if len(pod.Spread) != 1 || pod.Spread[0].TopologyKey != "kubernetes.io/hostname" || pod.Spread[0].MaxSkew != 1 {
		t.Errorf("replicas not spread over nodes: %+v", pod.Spread)
	}
	if len(pod.Tolerations) != 0 {
		t.Errorf("tolerates %v; CoreDNS runs where ordinary pods do", pod.Tolerations)
	}
	if pod.ServiceAccountName != Name || pod.DNSPolicy != "Default" {
		t.Errorf("service account %q, dnsPolicy %q", pod.ServiceAccountName, pod.DNSPolicy)
	}
	if !pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser == 0 {
		t.Errorf("CoreDNS may run as root: %+v", pod.SecurityContext)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	ctr := pod.Containers[0]
	if ctr.Image != Image {
		t.Errorf("image %s, want %s", ctr.Image, Image)
	}
	if ctr.Resources.Requests["memory"] == "" || ctr.Resources.Limits["memory"] == "" || ctr.Resources.Requests["cpu"] == "" {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", ctr.Resources)
	}
	if ctr.ReadinessProbe.HTTPGet.Path != "/ready" || ctr.ReadinessProbe.HTTPGet.Port != Ready.Name ||
		ctr.LivenessProbe.HTTPGet.Path != "/health" || ctr.LivenessProbe.HTTPGet.Port != Health.Name {
		t.Errorf("probes: readiness %+v, liveness %+v", ctr.ReadinessProbe, ctr.LivenessProbe)
	}

	// Every Service port reaches a container port of the same protocol,
	// and DNS is on 53 for clients.
	byName := map[string]int{}
	for _, p := range ctr.Ports {
		byName[p.Name+"/"+p.Protocol] = p.ContainerPort
		if p.ContainerPort < 1024 {
			t.Errorf("container port %s is %d: CoreDNS runs unprivileged", p.Name, p.ContainerPort)
		}
	}
	var dnsProtocols []string
	for _, p := range svc.Spec.Ports {
		if _, ok := byName[p.TargetPort+"/"+p.Protocol]; !ok {
			t.Errorf("Service port %s targets %s/%s, which the container lacks", p.Name, p.TargetPort, p.Protocol)
		}
		if p.Port == 53 {
			dnsProtocols = append(dnsProtocols, p.Protocol)
			if byName[p.TargetPort+"/"+p.Protocol] != DNS.Number {
				t.Errorf("Service port 53/%s does not reach CoreDNS's %d", p.Protocol, DNS.Number)
			}
		}
	}
	if slices.Sort(dnsProtocols); !slices.Equal(dnsProtocols, []string{"TCP", "UDP"}) {
		t.Errorf("the Service answers DNS on 53 over %v, want TCP and UDP", dnsProtocols)
	}
	if len(ctr.Args) != 2 || ctr.Args[1] != corefilePath+"/"+corefileKey {
		t.Errorf("CoreDNS runs with %v", ctr.Args)
	}
	cm := objs["ConfigMap"]
	want, _ := Corefile(c, Options{})
	if cm.Data[corefileKey] != want {
		t.Errorf("ConfigMap's Corefile:\n%s\nwant:\n%s", cm.Data[corefileKey], want)
	}
}

// TestLeastPrivilege: the kubernetes plugin of v1.15.0 lists and watches
// services, endpointslices and namespaces; the role grants exactly that,
// to CoreDNS's service account alone.
func TestLeastPrivilege(t *testing.T) {
	m, err := Manifest(setup(t, nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	objs := parse(t, m)
	granted := map[string]bool{}
	for _, r := range objs["ClusterRole"].Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					granted[g+"/"+res+":"+v] = true
				}
			}
		}
	}
	want := map[string]bool{}
	for _, gr := range []string{"/services", "/namespaces", "discovery.k8s.io/endpointslices"} {
		want[gr+":list"], want[gr+":watch"] = true, true
	}
	if len(granted) != len(want) {
		t.Errorf("granted %v, want %v", granted, want)
	}
	for p := range want {
		if !granted[p] {
			t.Errorf("%s not granted", p)
		}
	}
	b := objs["ClusterRoleBinding"]
	if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != objs["ClusterRole"].Metadata.Name ||
		len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Name != Name || b.Subjects[0].Namespace != Namespace {
		t.Errorf("binding %+v %+v", b.RoleRef, b.Subjects)
	}
}

func TestCorefile(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(string) string
		opts     Options
		want     []string
		unwanted []string
	}{
		{
			name: "template",
			want: []string{".:1053 {", "kubernetes cluster.internal 28.172.in-addr.arpa 18.172.in-addr.arpa {",
				"pods insecure", "forward . 192.0.2.53\n", "health :8080", "ready :8181", "prometheus :9153",
				"cache 30", "loop", "reload", "loadbalance", "errors"},
		},
		{
			name: "two upstreams, another domain and ranges",
			edit: func(s string) string {
				s = strings.Replace(s, "  - 192.0.2.53", "  - 192.0.2.53\n  - 192.0.2.54", 1)
				s = strings.Replace(s, "internal-domain: cluster.internal", "internal-domain: k8s.example.net", 1)
				s = strings.Replace(s, "cidr-pods: 172.18.0.0/16", "cidr-pods: 10.96.0.0/12", 1)
				return s
			},
			want: []string{"forward . 192.0.2.53 192.0.2.54\n",
				"kubernetes k8s.example.net 28.172.in-addr.arpa 96.10.in-addr.arpa 97.10.in-addr.arpa ", " 111.10.in-addr.arpa {"},
			unwanted: []string{"cluster.internal", "112.10.in-addr.arpa"},
		},
		{
			name:     "upstreams replaced (the virtual cluster)",
			opts:     Options{Upstreams: []string{"10.213.0.1"}},
			want:     []string{"forward . 10.213.0.1\n"},
			unwanted: []string{"192.0.2.53"},
		},
		{
			name: "no upstreams: cluster names only",
			edit: func(s string) string {
				return strings.Replace(s, "dns-upstreams:\n  - 192.0.2.53", "dns-upstreams: []", 1)
			},
			unwanted: []string{"forward"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Corefile(setup(t, tc.edit), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Corefile lacks %q:\n%s", w, got)
				}
			}
			for _, u := range tc.unwanted {
				if strings.Contains(got, u) {
					t.Errorf("Corefile has %q:\n%s", u, got)
				}
			}
			if strings.Count(got, "{") != strings.Count(got, "}") {
				t.Errorf("unbalanced braces:\n%s", got)
			}
		})
	}
	if _, err := Corefile(setup(t, nil), Options{Upstreams: []string{"resolver.example"}}); err == nil {
		t.Error("an upstream that is not an address was accepted")
	}
}

func TestReverseZones(t *testing.T) {
	tests := []struct {
		cidr string
		want []string
	}{
		{"10.0.0.0/8", []string{"10.in-addr.arpa"}},
		{"172.28.0.0/16", []string{"28.172.in-addr.arpa"}},
		{"192.0.2.0/24", []string{"2.0.192.in-addr.arpa"}},
		{"10.214.0.0/15", []string{"214.10.in-addr.arpa", "215.10.in-addr.arpa"}},
		{"192.0.2.128/25", nil}, // every /32 of it, below
	}
	for i := 128; i < 256; i++ {
		tests[4].want = append(tests[4].want, strconv.Itoa(i)+".2.0.192.in-addr.arpa")
	}
	for _, tc := range tests {
		got, err := ReverseZones(netip.MustParsePrefix(tc.cidr))
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ReverseZones(%s) = %v, %v; want %v", tc.cidr, got, err, tc.want)
		}
	}
	for _, bad := range []string{"10.0.0.1/8", "2001:db8::/32"} {
		if z, err := ReverseZones(netip.MustParsePrefix(bad)); err == nil {
			t.Errorf("ReverseZones(%s) = %v, want an error", bad, z)
		}
	}
}

func TestPortsUnique(t *testing.T) {
	names, numbers := map[string]bool{}, map[string]bool{}
	for _, p := range Ports() {
		key := p.Protocol + "/" + strconv.Itoa(p.Number)
		if names[p.Name] || numbers[key] {
			t.Errorf("port %+v repeats a name or a number", p)
		}
		names[p.Name], numbers[key] = true, true
	}
}

// TestImageIsBuilt: scripts/build makes the image the Deployment names,
// from the CoreDNS version upstream/coredns pins.
func TestImageIsBuilt(t *testing.T) {
	build, err := os.ReadFile(filepath.Join("..", "..", "scripts", "build"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(build), "coredns="+Image+`="$out/coredns"=/coredns`) {
		t.Errorf("scripts/build does not build %s from the coredns binary", Image)
	}
	mod, err := os.ReadFile(filepath.Join("..", "..", "upstream", "coredns", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	version := Image[strings.LastIndex(Image, ":")+1:]
	if !strings.Contains(string(mod), "github.com/coredns/coredns v"+version+"\n") {
		t.Errorf("upstream/coredns does not pin CoreDNS v%s, which the image's tag names", version)
	}
}
