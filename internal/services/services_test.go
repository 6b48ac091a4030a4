package services

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/config"
)

func testCluster(t *testing.T) *config.Config {
	t.Helper()
	c, _, err := config.Parse("setup.yaml", config.Template)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMapIsConsistent(t *testing.T) {
	if err := Validate(); err != nil {
		t.Fatal(err)
	}
	names := func(k config.Kind) []string {
		var out []string
		for _, s := range For(k) {
			out = append(out, s.Name)
		}
		return out
	}
	if got := names(config.KindSupervisor); !slices.Equal(got, []string{"keyserver", "keyclient", "node-exporter", "sshd", "auth-monitor", "keygateway", "user-grant", "kube-state-metrics", "registry", "registry-front", "setup-queue", "prometheus"}) {
		t.Errorf("supervisor may run %v", got)
	}
	c := testCluster(t)
	on := func(c *config.Config) []string {
		var out []string
		for _, s := range On(c, c.Supervisor()) {
			out = append(out, s.Name)
		}
		return out
	}
	if got := on(c); slices.Contains(got, "keygateway") {
		t.Errorf("without a Kerberos realm the supervisor runs %v", got)
	}
	c.Cluster.KerberosRealm = "EXAMPLE.ORG"
	if got := on(c); !slices.Contains(got, "keygateway") || slices.Contains(got, "user-grant") {
		t.Errorf("with a Kerberos realm the supervisor runs %v", got)
	}
	c.Cluster.UserGrantDomain = "users.example.org"
	if got := on(c); !slices.Contains(got, "user-grant") {
		t.Errorf("with a user-grant domain the supervisor runs %v", got)
	}
	if got := names(config.KindWorker); !slices.Equal(got, []string{"keyclient", "node-exporter", "sshd", "containerd", "kubelet", "kube-proxy", "flannel", "pull-monitor"}) {
		t.Errorf("worker runs %v", got)
	}
	if got := names(config.KindMaster); !slices.Equal(got, []string{"keyclient", "node-exporter", "sshd", "etcd", "etcd-exporter", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "containerd", "kubelet", "kube-proxy", "flannel", "pull-monitor"}) {
		t.Errorf("master runs %v", got)
	}
	if d := Deps(MustGet("kubelet"), config.KindWorker); !slices.Equal(d, []string{"containerd"}) {
		t.Errorf("worker kubelet depends on %v", d)
	}
	kc := For(config.KindWorker)[0]
	if d := Deps(kc, config.KindWorker); len(d) != 0 {
		t.Errorf("worker keyclient depends on %v; the keyserver is not on workers", d)
	}
	if d := Deps(kc, config.KindSupervisor); !slices.Equal(d, []string{"keyserver"}) {
		t.Errorf("supervisor keyclient depends on %v", d)
	}
}

func TestCommandsUseTheNodesOwnAddress(t *testing.T) {
	c := testCluster(t)
	n, _ := c.FindNode("master1")
	h := Host{Cluster: c, Node: n, BinDir: "/usr/bin"}
	argv := For(config.KindMaster)[0].Argv(h) // keyclient
	if argv[0] != "/usr/bin/keyclient" || !strings.Contains(strings.Join(argv, " "), "--metrics-listen "+KeyclientStatus.Addr("192.0.2.21")) {
		t.Errorf("keyclient argv %v", argv)
	}
	if u := For(config.KindMaster)[0].Ready.On(h).URL; u != KeyclientStatus.URL("192.0.2.21", "/readyz") {
		t.Errorf("ready URL %s", u)
	}
}

// TestUnitsPassSystemdVerify renders every unit of every kind and has
// systemd's own checker read them.
func TestUnitsPassSystemdVerify(t *testing.T) {
	c := testCluster(t)
	binDir := t.TempDir()
	for _, name := range []string{"keyserver", "keyclient", "kube-launch", "auth-monitor", "registry-front", "keygateway", "user-grant"} {
		os.WriteFile(filepath.Join(binDir, name), []byte("#!/bin/sh\n"), 0o755)
	}
	for _, k := range config.Kinds {
		n := c.NodesOf(k)[0]
		h := Host{Cluster: c, Node: n, BinDir: binDir}
		dir := t.TempDir()
		var paths []string
		for _, s := range For(k) {
			if s.OSProvided() {
				continue
			}
			p := filepath.Join(dir, s.Unit())
			if err := os.WriteFile(p, []byte(Unit(s, h)), 0o644); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
		cmd := exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, paths...)...)
		cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":")
		out, err := cmd.CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("%s units: systemd-analyze verify: %v\n%s", k, err, out)
		}
	}
}

func TestUnitContent(t *testing.T) {
	c := testCluster(t)
	h := Host{Cluster: c, Node: c.Supervisor(), BinDir: "/usr/bin"}
	u := Unit(For(config.KindSupervisor)[1], h) // keyclient
	for _, want := range []string{"Requires=keyserver.service", "After=network-online.target keyserver.service", "Restart=always", "ProtectSystem=strict", "ConfigurationDirectory=homeworld", "StateDirectory=homeworld", "ReadWritePaths=/etc/ssh", "NoNewPrivileges=yes"} {
		if !strings.Contains(u, want+"\n") {
			t.Errorf("keyclient unit lacks %q:\n%s", want, u)
		}
	}
}

// TestEndpointsAreOneTable: Endpoints lists every endpoint variable of
// endpoints.go, no two share a port (all may run on one master), every
// service's endpoints come from the table, and each readiness probe looks
// at an endpoint of its own service.
func TestEndpointsAreOneTable(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "endpoints.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := 0
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Values) == 1 {
			if cl, ok := vs.Values[0].(*ast.CompositeLit); ok {
				if id, ok := cl.Type.(*ast.Ident); ok && id.Name == "Endpoint" {
					declared++
				}
			}
		}
		return true
	})
	all := Endpoints()
	if declared != len(all) {
		t.Errorf("endpoints.go declares %d endpoints, Endpoints() lists %d", declared, len(all))
	}
	// A port may serve two endpoints only on nodes of different kinds
	// (443: the apiserver on masters, the registry on the supervisor).
	kindsOf := func(e Endpoint) []config.Kind {
		var kinds []config.Kind
		for _, s := range Map {
			if slices.Contains(s.Endpoints, e) {
				kinds = append(kinds, s.Kinds...)
			}
		}
		return kinds
	}
	for i, a := range all {
		for _, b := range all[i+1:] {
			if a.Port != b.Port {
				continue
			}
			for _, k := range kindsOf(a) {
				if slices.Contains(kindsOf(b), k) {
					t.Errorf("port %d is used twice on a %s", a.Port, k)
				}
			}
		}
	}
	for _, s := range Map {
		for _, e := range s.Endpoints {
			if !slices.Contains(all, e) {
				t.Errorf("service %s: endpoint :%d is not in Endpoints()", s.Name, e.Port)
			}
		}
		if s.Ready.Socket == "" && !slices.Contains(s.Endpoints, s.Ready.Endpoint) {
			t.Errorf("service %s: readiness probe looks at :%d, not one of its endpoints", s.Name, s.Ready.Endpoint.Port)
		}
	}
}

// TestPackageUnitsAreTheSameOnEveryNode: a package ships one unit per
// service, so nothing of one node may be in it; systemd's own checker reads
// them all together, as a node with every package installed has them.
func TestPackageUnitsAreTheSameOnEveryNode(t *testing.T) {
	c := testCluster(t)
	binDir := t.TempDir()
	for _, name := range []string{"keyserver", "keyclient", "kube-launch", "auth-monitor", "registry-front", "keygateway", "user-grant"} {
		os.WriteFile(filepath.Join(binDir, name), []byte("#!/bin/sh\n"), 0o755)
	}
	dir := t.TempDir()
	var paths []string
	for _, s := range Map {
		if s.OSProvided() {
			continue
		}
		u := PackageUnit(s, binDir)
		for _, n := range c.Nodes {
			if strings.Contains(u, n.IP) {
				t.Errorf("%s names %s's address:\n%s", s.Unit(), n.Hostname, u)
			}
		}
		p := filepath.Join(dir, s.Unit())
		if err := os.WriteFile(p, []byte(u), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	cmd := exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, paths...)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":")
	if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("package units: systemd-analyze verify: %v\n%s", err, out)
	}

	for _, tc := range []struct {
		service string
		want    []string
		not     []string
	}{
		// The keyserver runs on the supervisor only: ordered, not pulled in.
		{"keyclient", []string{"After=network-online.target keyserver.service", "EnvironmentFile=-/etc/homeworld/config/local.conf",
			"--metrics-listen ${HOST_IP}:" + KeyclientStatus.PortString()}, []string{"Requires="}},
		{"auth-monitor", []string{"Requires=keyclient.service", "EnvironmentFile=/etc/homeworld/config/local.conf",
			"--listen ${HOST_IP}:" + AuthMonitor.PortString()}, nil},
		{"kubelet", []string{"Requires=homeworld-containerd.service", "After=network-online.target homeworld-containerd.service kube-apiserver.service"},
			[]string{"Requires=kube-apiserver.service", "EnvironmentFile"}},
		{"containerd", []string{"Conflicts=containerd.service", "ExecStart=" + filepath.Join(binDir, "kube-launch") + " containerd"}, nil},
		{"node-exporter", []string{"Conflicts=prometheus-node-exporter.service"}, nil},
	} {
		u := PackageUnit(MustGet(tc.service), binDir)
		for _, w := range tc.want {
			if !strings.Contains(u, w+"\n") && !strings.Contains(u, w+" ") {
				t.Errorf("%s package unit lacks %q:\n%s", tc.service, w, u)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(u, n) {
				t.Errorf("%s package unit has %q:\n%s", tc.service, n, u)
			}
		}
	}
}

// TestDisplacedUnitsKeepTheirFile: Homeworld's unit never has the name of
// the Debian unit it displaces, which another package owns.
func TestDisplacedUnitsKeepTheirFile(t *testing.T) {
	for _, s := range Map {
		if s.Displaces != "" && s.Unit() == s.Displaces {
			t.Errorf("service %s: unit %s is Debian's file", s.Name, s.Unit())
		}
	}
	if u := MustGet("containerd").Unit(); u != "homeworld-containerd.service" {
		t.Errorf("containerd's unit is %s", u)
	}
}

// TestLaunchedServicesStartAfterTheKeyclient: kube-launch reads the node's
// configuration, which the keyclient fetches, so every service it starts
// waits for the keyclient, directly or through another service. Without
// that the registry started first and failed once on every supervisor.
func TestLaunchedServicesStartAfterTheKeyclient(t *testing.T) {
	for _, kind := range []config.Kind{config.KindSupervisor, config.KindMaster, config.KindWorker} {
		for _, s := range For(kind) {
			if s.Launch == "" {
				continue
			}
			seen := map[string]bool{}
			var walk func(Service)
			walk = func(s Service) {
				for _, d := range Deps(s, kind) {
					if !seen[d] {
						seen[d] = true
						walk(MustGet(d))
					}
				}
			}
			walk(s)
			if !seen["keyclient"] {
				t.Errorf("%s on a %s starts through kube-launch without waiting for the keyclient (after %v)", s.Name, kind, s.After)
			}
		}
	}
}
