package debpkg

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/nodeconf"
	"homeworld.dev/homeworld/internal/services"
)

// unpackaged are the programs of cmd/ that no package carries, and why.
var unpackaged = map[string]string{
	"virtnode":        "the virtual cluster's node daemon: spire virt runs it from a build's bin folder",
	"imagebuild":      "a build tool (scripts/build)",
	"debpkg":          "a build tool (scripts/packages)",
	"sbom":            "a build tool: debpkg ships each binary's SBOM it makes",
	"hello":           "runs in its image (homeworld-images)",
	"pause":           "runs in its image (homeworld-images)",
	"pullcheck":       "runs in its image (homeworld-images)",
	"flannel-monitor": "runs in a pod, from its image (homeworld-images)",
	"dns-monitor":     "runs in a pod, from its image (homeworld-images)",
}

// TestPackagesCoverTheBuild: every program of cmd/ is in exactly one
// package or listed in unpackaged, and no file is in two packages.
func TestPackagesCoverTheBuild(t *testing.T) {
	owner := map[string]string{}
	for _, p := range All() {
		for _, b := range p.Bins {
			if o, ok := owner[b]; ok {
				t.Errorf("%s is in %s and %s", b, o, p.Name)
			}
			owner[b] = p.Name
		}
	}
	cmds, err := os.ReadDir("../../cmd")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		_, packaged := owner[c.Name()]
		_, skipped := unpackaged[c.Name()]
		if packaged == skipped {
			t.Errorf("cmd/%s: packaged %v, listed as unpackaged %v; want exactly one", c.Name(), packaged, skipped)
		}
	}
}

// TestPackagesCoverTheServiceMap: every unit the map renders is shipped by
// exactly one package, every service of the operating system has the
// Debian package that provides it, and the kind packages follow the map.
func TestPackagesCoverTheServiceMap(t *testing.T) {
	for _, s := range services.Map {
		var by []string
		for _, p := range Components {
			if slices.Contains(p.Units, s.Name) {
				by = append(by, p.Name)
			}
		}
		switch {
		case s.OSProvided() && len(by) > 0:
			t.Errorf("%s is the operating system's (%s), but %v ship a unit for it", s.Name, s.Unit(), by)
		case s.OSProvided() && len(runtimeNeeds[s.Name]) == 0:
			t.Errorf("%s is the operating system's: name its Debian package in runtimeNeeds", s.Name)
		case !s.OSProvided() && len(by) != 1:
			t.Errorf("%s's unit is shipped by %v; want exactly one package", s.Name, by)
		}
	}
	for name, needs := range runtimeNeeds {
		if !slices.ContainsFunc(services.Map, func(s services.Service) bool { return s.Name == name }) {
			t.Errorf("runtimeNeeds names %s, which is not a service of the map", name)
		}
		for _, n := range needs {
			if strings.HasPrefix(n, "homeworld-") && !isHomeworld(n) {
				t.Errorf("runtimeNeeds[%s]: no package %s", name, n)
			}
		}
	}
	for _, p := range Components {
		for _, n := range p.Needs {
			if !isHomeworld(n) {
				t.Errorf("%s needs %s, which is not one of the packages", p.Name, n)
			}
		}
	}
	for _, tc := range []struct {
		kind     config.Kind
		has, not []string
	}{
		{config.KindSupervisor, []string{"homeworld-keyserver", "homeworld-registry", "homeworld-images", "homeworld-kubernetes", "prometheus", "openssh-server"},
			[]string{"containerd", "homeworld-etcd"}},
		{config.KindMaster, []string{"homeworld-etcd", "homeworld-flannel", "containerd", "runc", "iptables", "prometheus-node-exporter"},
			[]string{"prometheus", "homeworld-keyserver"}},
		{config.KindWorker, []string{"homeworld-kubernetes", "containerd", "conntrack"}, []string{"homeworld-etcd", "prometheus"}},
	} {
		p := KindPackage(tc.kind)
		deps := append(slices.Clone(p.Needs), p.Debian...)
		for _, h := range tc.has {
			if !slices.Contains(deps, h) {
				t.Errorf("%s lacks %s: %v", p.Name, h, deps)
			}
		}
		for _, n := range tc.not {
			if slices.Contains(deps, n) {
				t.Errorf("%s depends on %s: %v", p.Name, n, deps)
			}
		}
	}
}

// TestUnitsReadTheNodesAddressFromLocalConf: package units name the node's
// address by local.conf's key, which systemd reads as an environment file.
func TestUnitsReadTheNodesAddressFromLocalConf(t *testing.T) {
	c, _, err := config.Parse("setup.yaml", config.Template)
	if err != nil {
		t.Fatal(err)
	}
	local := nodeconf.ForNode(c, c.Supervisor()).Render()
	if !strings.Contains(local, "\n"+services.NodeIPVar+"="+c.Supervisor().IP+"\n") {
		t.Errorf("local.conf has no %s line:\n%s", services.NodeIPVar, local)
	}
}

func TestCheckVersion(t *testing.T) {
	for v, ok := range map[string]bool{
		"0.0.812+g6a3f589": true, "1.2~rc1": true, "20260301.1": true,
		"": false, "v1.2": false, "1.2-3": false, "1:1.2": false, "1.2 3": false, "1.2_3": false,
	} {
		if err := CheckVersion(v); (err == nil) != ok {
			t.Errorf("CheckVersion(%q) = %v, want ok %v", v, err, ok)
		}
	}
}

// TestMissingInputWritesNothing: a missing program fails the build with an
// error naming its package and the file, and the output folder keeps
// exactly what it had.
func TestMissingInputWritesNothing(t *testing.T) {
	bin := fakeBin(t)
	os.Remove(filepath.Join(bin, "kubelet"))
	os.Remove(filepath.Join(bin, "images", "pause.tar"))
	out := t.TempDir()
	old := filepath.Join(out, "kept.deb")
	os.WriteFile(old, []byte("an earlier build"), 0o644)
	_, err := Build(Options{BinDir: bin, OutDir: out, Version: testVersion, Epoch: testEpoch})
	if err == nil {
		t.Fatal("Build succeeded without kubelet")
	}
	for _, want := range []string{
		"homeworld-kubernetes needs " + filepath.Join(bin, "kubelet") + ": no such file or directory",
		"homeworld-images needs " + filepath.Join(bin, "images", "pause.tar") + ": no such file or directory",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 || entries[0].Name() != "kept.deb" {
		t.Errorf("output folder after a failed build: %v", entries)
	}
	if _, err := Build(Options{BinDir: bin, OutDir: out, Version: "v1", Epoch: testEpoch}); err == nil || !strings.Contains(err.Error(), `"v1"`) {
		t.Errorf("Build with version v1: %v", err)
	}
}

// TestBuildIsReproducible: two builds in different folders, from copies of
// the bin folder with other modes and times, give the same bytes.
func TestBuildIsReproducible(t *testing.T) {
	dir1, first := built(t)
	bin := fakeBin(t)
	filepath.WalkDir(bin, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			os.Chmod(path, 0o700)
			os.Chtimes(path, testEpoch.AddDate(1, 0, 0), testEpoch.AddDate(1, 0, 0))
		}
		return nil
	})
	_, second := build(t, bin)
	if len(first) != len(second) {
		t.Fatalf("%d packages, then %d", len(first), len(second))
	}
	for i := range first {
		if first[i].SHA256 != second[i].SHA256 || first[i].Package != second[i].Package {
			t.Errorf("%s: sha256 %s in %s, then %s: %s", first[i].Package, first[i].SHA256, dir1, second[i].Package, second[i].SHA256)
		}
	}
}

// TestPackageFields reads the packages back with dpkg-deb: control fields,
// every entry owned by root with fixed modes and the epoch's time, units
// as the service map renders them.
func TestPackageFields(t *testing.T) {
	_, results := built(t)
	byName := map[string]Result{}
	for _, r := range results {
		byName[r.Package] = r
		if filepath.Base(r.File) != FileName(r.Package, testVersion) {
			t.Errorf("%s written as %s", r.Package, r.File)
		}
	}
	if len(byName) != len(All()) {
		t.Errorf("%d packages written, %d defined", len(byName), len(All()))
	}
	dpkgDeb := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("dpkg-deb", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg-deb %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	kube := byName["homeworld-kubernetes"].File
	for _, field := range []string{
		"Package: homeworld-kubernetes", "Version: " + testVersion, "Architecture: amd64", "Section: admin",
		"Priority: optional", "Maintainer: " + Maintainer, "Depends: homeworld-services (= " + testVersion + ")",
		"Description: Kubernetes for Homeworld, built from pinned source",
	} {
		if info := dpkgDeb("--field", kube); !strings.Contains(info, field+"\n") {
			t.Errorf("homeworld-kubernetes lacks %q:\n%s", field, info)
		}
	}
	if info := dpkgDeb("--info", byName["homeworld-worker"].File); !strings.Contains(info, "containerd, containernetworking-plugins") {
		t.Errorf("homeworld-worker's Depends:\n%s", info)
	}

	stamp := testEpoch.Format("2006-01-02 15:04")
	for _, r := range results {
		for _, line := range strings.Split(strings.TrimSpace(dpkgDeb("--contents", r.File)), "\n") {
			f := strings.Fields(line) // mode owner size date time path
			if len(f) < 6 {
				t.Errorf("%s: odd entry %q", r.Package, line)
				continue
			}
			mode, owner, path := f[0], f[1], f[5]
			want := "-rw-r--r--"
			switch {
			case strings.HasSuffix(path, "/"):
				want = "drwxr-xr-x"
			case strings.HasPrefix(path, "."+BinDir+"/"):
				want = "-rwxr-xr-x"
			}
			if mode != want || owner != "root/root" || f[3]+" "+f[4] != stamp {
				t.Errorf("%s: %q; want %s root/root %s", r.Package, line, want, stamp)
			}
		}
	}

	root := t.TempDir()
	dpkgDeb("-x", kube, root)
	for _, name := range []string{"kubelet", "kube-apiserver"} {
		s := services.MustGet(name)
		got, err := os.ReadFile(filepath.Join(root, UnitDir, s.Unit()))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != services.PackageUnit(s, BinDir) {
			t.Errorf("%s in the package differs from the service map's:\n%s", s.Unit(), got)
		}
	}
	for _, f := range []string{"usr/share/doc/homeworld-kubernetes/copyright", "usr/share/doc/homeworld-kubernetes/changelog.gz", "usr/lib/homeworld/bin/kubectl"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Error(err)
		}
	}
	if c, _ := os.ReadFile(filepath.Join(root, "usr/share/doc/homeworld-kubernetes/copyright")); !strings.Contains(string(c), "/usr/share/common-licenses/Apache-2.0") {
		t.Errorf("copyright:\n%s", c)
	}
}

// DebianNeeds is every kind's Debian dependencies once each, and none of
// Homeworld's own packages.
func TestDebianNeeds(t *testing.T) {
	needs := DebianNeeds()
	if !slices.IsSorted(needs) || len(slices.Compact(slices.Clone(needs))) != len(needs) {
		t.Errorf("DebianNeeds() = %v: want sorted, each once", needs)
	}
	for _, k := range config.Kinds {
		for _, d := range KindPackage(k).Debian {
			if !slices.Contains(needs, d) {
				t.Errorf("%s depends on %s, which DebianNeeds() lacks", k, d)
			}
		}
	}
	for _, d := range needs {
		if isHomeworld(d) {
			t.Errorf("DebianNeeds() lists Homeworld's own %s", d)
		}
	}
}
