//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/credential"
	"homeworld.dev/homeworld/internal/imagepush"
	"homeworld.dev/homeworld/internal/images"
	"homeworld.dev/homeworld/internal/launch"
	"homeworld.dev/homeworld/internal/layout"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/setupqueue"
	"homeworld.dev/homeworld/internal/verify"
	"homeworld.dev/homeworld/internal/virt"
)

// clusterSteps is how many steps seq cluster has.
func clusterSteps(c *config.Config) int {
	return len(verify.ClusterSequence(c, verify.PrometheusFor(c, "")))
}

// testRegistry: the nodes pulled everything from the supervisor's registry;
// a node's credential cannot push; pushing the unchanged build again sends
// nothing; with the registry stopped, verify pull names it on every node
// and seq cluster fails within its deadline; started again, all is green.
func testRegistry(t *testing.T, v *virtCluster) {
	sup := v.cfg.Supervisor()
	worker := v.topo.Nodes[len(v.topo.Nodes)-1] // a worker
	var kubeCred credential.Credential
	for _, c := range credential.Catalogue {
		if c.Name == "kubernetes-worker" {
			kubeCred = c
		}
	}
	pair, err := tls.LoadX509KeyPair(worker.Folder(kubeCred.Path), worker.Folder(kubeCred.KeyPath))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(worker.Folder(layout.AuthoritiesDir + "/clusterca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	// An image the registry does not hold, so the push must write.
	build := t.TempDir()
	img, err := images.Build(images.Spec{Files: []images.File{{Path: "/intruder", Data: []byte("from a worker")}}, Entrypoint: []string{"/intruder"}})
	if err != nil {
		t.Fatal(err)
	}
	refs := []string{services.RegistryName + "/intruder:1"}
	d, _ := img.Digest()
	if err := images.WriteArchive(filepath.Join(build, "intruder.tar"), refs, img); err != nil {
		t.Fatal(err)
	}
	if err := images.WriteIndex(build, []images.Built{{Name: "intruder", Refs: refs, Digest: d}}); err != nil {
		t.Fatal(err)
	}
	asNode := imagepush.Registry{Addr: services.RegistryFront.Addr(sup.IP), Roots: roots, Client: &pair}
	_, err = imagepush.Push(context.Background(), asNode, build, imagepush.Options{})
	if err == nil || !strings.Contains(err.Error(), "DENIED") {
		t.Errorf("a worker's credential pushing: %v", err)
	}

	start := time.Now()
	out := v.spire(t, "registry", "push")
	t.Logf("measured: pushing the unchanged build again took %v: %s", time.Since(start), lastLine(out))
	if !strings.Contains(out, " 0 pushed, 0 replaced") {
		t.Errorf("a second push changed something:\n%s", out)
	}

	v.spire(t, "virt", "service", "supervisor", "registry", "stop")
	waitFor(t, "verify pull to name the registry on every node", 60*time.Second, func() error {
		out, _, err := v.trySpire("verify", "pull")
		if err == nil {
			return fmt.Errorf("verify pull still passes")
		}
		for _, n := range append(v.cfg.NodesOf(config.KindMaster), v.cfg.NodesOf(config.KindWorker)...) {
			if want := fmt.Sprintf("node %s: pulling %s from the registry %s fails (step pull", n.Hostname, "homeworld.private/pullcheck:1", services.RegistryName); !strings.Contains(out, want) {
				return fmt.Errorf("verify pull does not say %q:\n%s", want, out)
			}
		}
		return nil
	})
	start = time.Now()
	out, _, err = v.trySpire("seq", "cluster", "--deadline", "20s")
	t.Logf("measured: seq cluster failed after %v with the registry stopped", time.Since(start))
	// The first step to see it fails: services (the registry service is
	// inactive) or, before its state is scraped, registry itself.
	failed := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "FAILED") {
			failed = line
		}
	}
	if err == nil || !strings.Contains(failed, "registry") {
		t.Errorf("seq cluster with the registry stopped does not name it:\n%s", out)
	}
	v.spire(t, "virt", "service", "supervisor", "registry", "start")
	waitFor(t, "verify all to pass with the registry back", 90*time.Second, func() error {
		if out, _, err := v.trySpire("verify", "all"); err != nil {
			return fmt.Errorf("%s", out)
		}
		return nil
	})

	// A corrupt blob in the registry's storage: pulls fail on the digest,
	// pull-monitor names the image, nothing crashes; mended, all is green.
	tag, _ := name.NewTag(launch.PullcheckImage)
	img, err = tarball.ImageFromPath(filepath.Join(bin, "images", "pullcheck.tar"), &tag)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	blob := v.topo.Nodes[0].Folder(filepath.Join(launch.RegistryStorage, "docker/registry/v2/blobs/sha256", ld.Hex[:2], ld.Hex, "data"))
	if v.topo.Nodes[0].Kind != config.KindSupervisor {
		t.Fatalf("the first node is %s, not the supervisor", v.topo.Nodes[0].Hostname)
	}
	good, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	digestLines := map[string]int{}
	for _, n := range v.topo.Nodes {
		data, _ := os.ReadFile(filepath.Join(n.LogDir(), "pull-monitor.log"))
		digestLines[n.Hostname] = strings.Count(string(data), "digest")
	}
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 0xff
	if err := os.WriteFile(blob, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "verify pull to name the image whose blob is corrupt", 60*time.Second, func() error {
		out, _, err := v.trySpire("verify", "pull")
		if err == nil || !strings.Contains(out, "pulling "+launch.PullcheckImage+" from the registry") {
			return fmt.Errorf("verify pull: %s", out)
		}
		return nil
	})
	// A node's pull-monitor says why: containerd's digest error.
	waitFor(t, "a pull-monitor log naming the digest error", 60*time.Second, func() error {
		for _, n := range v.topo.Nodes {
			if n.Kind == config.KindSupervisor {
				continue
			}
			data, _ := os.ReadFile(filepath.Join(n.LogDir(), "pull-monitor.log"))
			if strings.Count(string(data), "digest") > digestLines[n.Hostname] {
				return nil
			}
		}
		return fmt.Errorf("no pull-monitor log mentions a digest since the blob was corrupted")
	})
	if err := os.WriteFile(blob, good, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "verify all to pass with the blob mended", 90*time.Second, func() error {
		if out, _, err := v.trySpire("verify", "all"); err != nil {
			return fmt.Errorf("%s", out)
		}
		return nil
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// testSetupQueue: the cluster's RBAC and add-ons came through the setup
// queue only, and a manifest the API refuses is named by verify while the
// items after it still go in, and never lost.
func testSetupQueue(t *testing.T, v *virtCluster) {
	queue := v.topo.QueueDir()
	var applied []string
	data, err := os.ReadFile(filepath.Join(queue, setupqueue.AppliedDir, setupqueue.AuditLog))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r setupqueue.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		applied = append(applied, r.Manifest)
	}
	for _, want := range []string{"rbac", "flannel", "dns-addon", "flannel-monitor", "dns-monitor"} {
		if !strings.Contains(" "+strings.Join(applied, " ")+" ", " "+want+" ") {
			t.Errorf("the queue's audit log lacks %s: %v", want, applied)
		}
	}
	// One manager applied Homeworld's objects, server-side.
	var managed struct {
		Metadata struct {
			ManagedFields []struct{ Manager, Operation string } `json:"managedFields"`
		} `json:"metadata"`
	}
	js := v.kubectl(t, "get", "clusterrole", "homeworld:supervisor-monitoring", "-o", "json", "--show-managed-fields")
	if err := json.Unmarshal([]byte(js), &managed); err != nil {
		t.Fatal(err)
	}
	if m := managed.Metadata.ManagedFields; len(m) != 1 || m[0].Manager != "homeworld" || m[0].Operation != "Apply" {
		t.Errorf("managedFields of the RBAC: %+v", m)
	}

	bad, err := setupqueue.Enqueue(queue, "broken", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Not_A_Valid_Name, namespace: default}\n")
	if err != nil {
		t.Fatal(err)
	}
	good, err := virt.Enqueue(v.topo, virt.Manifest{Name: "after-broken", Text: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: after-broken, namespace: default}\n"})
	if err != nil {
		t.Fatal(err)
	}
	// Each item costs two kubectl runs, seconds apiece on a loaded
	// machine: the deadline only bounds a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := virt.WaitApplied(ctx, v.topo, good); err != nil {
		t.Fatalf("the item after a refused one: %v", err)
	}
	waitFor(t, "verify kubernetes-init to name the refused manifest", 60*time.Second, func() error {
		out, _, err := v.trySpire("verify", "kubernetes-init")
		if err == nil || !strings.Contains(out, "the setup queue cannot apply broken: the API refuses it") {
			return fmt.Errorf("verify kubernetes-init: %s", out)
		}
		return nil
	})
	if _, err := os.Stat(bad); err != nil {
		t.Errorf("the refused item is gone from the queue: %v", err)
	}
	// The operator gives up on it by removing it.
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "verify kubernetes-init to pass again", 60*time.Second, func() error {
		if out, _, err := v.trySpire("verify", "kubernetes-init"); err != nil {
			return fmt.Errorf("%s", out)
		}
		return nil
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
