package registryfront_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/imagepush"
	"homeworld.dev/homeworld/internal/images"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/launch"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
	"homeworld.dev/homeworld/internal/registryfront"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/testutil"
	"homeworld.dev/homeworld/internal/upstreamtest"
)

const ip = "127.0.0.1"

// TestRegistryThroughTheFront runs the pinned distribution registry behind
// registry-front as the supervisor does, and talks to it with
// go-containerregistry, a stock registry client: pushes need an
// administrator's certificate, pulls need only the cluster CA, and a
// corrupted blob fails the pull with a digest error while the registry
// keeps serving.
func TestRegistryThroughTheFront(t *testing.T) {
	registry, inside := testutil.InPrivateNetns(t, func() string { return upstreamtest.Binary(t, "registry", "registry") })
	if !inside {
		return
	}
	c := start(t, registry)
	ctx := context.Background()
	reg := func(client *tls.Certificate) imagepush.Registry {
		return imagepush.Registry{Addr: services.RegistryFront.Addr(ip), Roots: c.roots, Client: client}
	}

	build := t.TempDir()
	writeBuild(t, build, "first")
	results, err := imagepush.Push(ctx, reg(c.admin), build, imagepush.Options{})
	if err != nil || len(results) != 1 || results[0].Outcome != imagepush.Pushed {
		t.Fatalf("first push: %v %+v", err, results)
	}
	if results, err := imagepush.Push(ctx, reg(c.admin), build, imagepush.Options{}); err != nil || results[0].Outcome != imagepush.Unchanged {
		t.Errorf("second push: %v %+v", err, results)
	}

	t.Run("pull with the cluster CA and no certificate", func(t *testing.T) {
		img, err := remote.Image(ref(t), remote.WithTransport(reg(nil).Transport()))
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := img.Digest(); d != results[0].Digest {
			t.Errorf("pulled %s, pushed %s", d, results[0].Digest)
		}
	})
	t.Run("pull without the cluster CA", func(t *testing.T) {
		r := reg(nil)
		r.Roots = x509.NewCertPool() // trusts nothing, like a machine without the cluster CA
		_, err := remote.Image(ref(t), remote.WithTransport(r.Transport()))
		var uerr x509.UnknownAuthorityError
		if !errors.As(err, &uerr) {
			t.Errorf("pull without the CA: %v", err)
		}
	})
	t.Run("only administrators push", func(t *testing.T) {
		other := t.TempDir()
		writeBuild(t, other, "second")
		for who, cert := range map[string]*tls.Certificate{"a node": c.node, "no certificate": nil} {
			_, err := imagepush.Push(ctx, reg(cert), other, imagepush.Options{Replace: true})
			if err == nil || !strings.Contains(err.Error(), "DENIED") {
				t.Errorf("%s pushing: %v", who, err)
			}
		}
		log, _ := os.ReadFile(c.audit)
		if !bytes.Contains(log, []byte(`"action":"refuse"`)) || !bytes.Contains(log, []byte(`"principal":"system:node:worker1"`)) || !bytes.Contains(log, []byte(`"action":"grant"`)) {
			t.Errorf("the audit log lacks the decisions:\n%s", log)
		}
	})
	t.Run("a reference is not overwritten unless asked", func(t *testing.T) {
		other := t.TempDir()
		writeBuild(t, other, "second")
		_, err := imagepush.Push(ctx, reg(c.admin), other, imagepush.Options{})
		if err == nil || !strings.Contains(err.Error(), "already names") {
			t.Errorf("pushing another image under the same reference: %v", err)
		}
		res, err := imagepush.Push(ctx, reg(c.admin), other, imagepush.Options{Replace: true})
		if err != nil || res[0].Outcome != imagepush.Replaced {
			t.Errorf("with Replace: %v %+v", err, res)
		}
		// Back to the first, for the tests below.
		if _, err := imagepush.Push(ctx, reg(c.admin), build, imagepush.Options{Replace: true}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an archive the build did not make is refused", func(t *testing.T) {
		other := t.TempDir()
		writeBuild(t, other, "third")
		built, _ := images.ReadIndex(build)
		if err := images.WriteIndex(other, built); err != nil { // the first build's digest
			t.Fatal(err)
		}
		_, err := imagepush.Push(ctx, reg(c.admin), other, imagepush.Options{Replace: true})
		if err == nil || !strings.Contains(err.Error(), "the build recorded") {
			t.Errorf("a tampered archive: %v", err)
		}
	})
	t.Run("a corrupt blob fails the pull with a checksum error", func(t *testing.T) {
		img, err := remote.Image(ref(t), remote.WithTransport(reg(nil).Transport()))
		if err != nil {
			t.Fatal(err)
		}
		layers, _ := img.Layers()
		ld, _ := layers[0].Digest()
		blob := filepath.Join(c.storage, "docker/registry/v2/blobs/sha256", ld.Hex[:2], ld.Hex, "data")
		data, err := os.ReadFile(blob)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		if err := os.WriteFile(blob, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rc, err := layers[0].Compressed()
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "checksum") || !strings.Contains(err.Error(), ld.String()) {
			t.Errorf("reading a corrupted layer: %v, want a checksum error naming %s", err, ld)
		}
		if _, err := remote.Image(ref(t), remote.WithTransport(reg(nil).Transport())); err != nil {
			t.Errorf("the registry stopped serving after a corrupt blob: %v", err)
		}
	})
	t.Run("metrics pass promtool", func(t *testing.T) {
		client := &http.Client{Transport: reg(nil).Transport()}
		resp, err := client.Get("https://" + policy.RegistryName + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(body, []byte(`registry_front_requests_total{access="write",outcome="denied"}`)) || !bytes.Contains(body, []byte("registry_front_backend_up 1")) {
			t.Errorf("metrics:\n%s", body)
		}
		check := exec.Command("promtool", "check", "metrics")
		check.Stdin = bytes.NewReader(body)
		if out, err := check.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})
}

// cluster is a registry and its front, and the credentials to talk to them.
type cluster struct {
	roots       *x509.CertPool
	admin, node *tls.Certificate
	audit       string
	storage     string
}

// start runs the registry and the front with keysystem-shaped credentials.
func start(t *testing.T, registry string) *cluster {
	auths, err := authority.Generate("test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	clusterCA, _ := auths.Get(keyapi.ClusterCA)
	kubeCA, _ := auths.Get(keyapi.Kubernetes)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	issue := func(ca *authority.Authority, g pki.TLSGrant) (*tls.Certificate, []byte, []byte) {
		k, _ := pki.NewKey()
		g.Lifetime = time.Hour
		crt, err := pki.IssueTLS(ca.Signer, ca.Cert, k.Public(), g, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		kp, _ := pki.EncodeKey(k)
		return &tls.Certificate{Certificate: [][]byte{crt.Raw}, PrivateKey: k}, pki.EncodeCert(crt), kp
	}
	// As the policy grants them: the registry's name only; an admin in
	// system:masters; a kubelet in system:nodes.
	_, srvCert, srvKey := issue(clusterCA, pki.TLSGrant{CommonName: "homeworld-registry", Names: []string{policy.RegistryName}, Usage: pki.ServerAuth})
	admin, _, _ := issue(kubeCA, pki.TLSGrant{CommonName: "root:admin", Organizations: []string{registryfront.AdminGroup}, Usage: pki.ClientAuth})
	node, _, _ := issue(kubeCA, pki.TLSGrant{CommonName: "system:node:worker1", Organizations: []string{"system:nodes"}, Usage: pki.ClientAuth | pki.ServerAuth})
	c := &cluster{roots: x509.NewCertPool(), admin: admin, node: node, audit: filepath.Join(dir, "audit.log"), storage: filepath.Join(dir, "storage")}
	c.roots.AddCert(clusterCA.Cert)

	cmd := exec.Command(registry, "serve", write("registry.yaml", []byte(launch.RegistryConfig(c.storage, services.RegistryBackend.Addr(ip)))))
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	backend := testutil.StartChild(t, "the registry", cmd)

	ctx, cancel := context.WithCancel(context.Background())
	front := registryfront.Command()
	front.SetArgs([]string{"--listen", services.RegistryFront.Addr(ip), "--backend", services.RegistryBackend.URL(ip, ""),
		"--cert", write("registry.pem", srvCert), "--key", write("registry.key", srvKey),
		"--client-ca", write("kube-ca.pem", pki.EncodeCert(kubeCA.Cert)), "--audit-log", c.audit})
	served := make(chan error, 1)
	go func() { served <- front.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("registry-front: %v", err)
		}
	})
	client := &http.Client{Transport: imagepush.Registry{Addr: services.RegistryFront.Addr(ip), Roots: c.roots}.Transport()}
	backend.WaitFor(t, 20*time.Second, "the registry through its front", func() (bool, error) {
		select {
		case err := <-served:
			t.Fatalf("registry-front stopped: %v", err)
		default:
		}
		resp, err := client.Get("https://" + policy.RegistryName + "/v2/")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	return c
}

// writeBuild writes a one-image build (archive and index) into dir; seed
// makes the image differ.
func writeBuild(t *testing.T, dir, seed string) {
	t.Helper()
	img, err := images.Build(images.Spec{Files: []images.File{{Path: "/seed", Data: []byte(seed)}}, Entrypoint: []string{"/seed"}})
	if err != nil {
		t.Fatal(err)
	}
	refs := []string{policy.RegistryName + "/test:1"}
	if err := images.WriteArchive(filepath.Join(dir, "test.tar"), refs, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if err := images.WriteIndex(dir, []images.Built{{Name: "test", Refs: refs, Digest: d}}); err != nil {
		t.Fatal(err)
	}
}

func ref(t *testing.T) name.Reference {
	r, err := name.ParseReference(policy.RegistryName + "/test:1")
	if err != nil {
		t.Fatal(err)
	}
	return r
}
