package registryfront_test

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/launch"
	"homeworld.dev/homeworld/internal/upstreamtest"
)

// TestRegistryHoldsFilesystemStorageOnly: the pinned registry is built from
// a main of our own that links the filesystem driver and no cloud ones
// (their code was resident on the supervisor for nothing). It serves
// Homeworld's own configuration, and refuses one naming S3 at startup.
func TestRegistryHoldsFilesystemStorageOnly(t *testing.T) {
	registry := upstreamtest.Binary(t, "registry", "registry")
	dir := t.TempDir()
	start := func(config string) (out *strings.Builder, exited chan error, kill func()) {
		path := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(registry, "serve", path)
		cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
		out = &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited = make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		kill = func() { _ = cmd.Process.Kill() }
		t.Cleanup(kill)
		return out, exited, kill
	}

	out, exited, _ := start("version: 0.1\nstorage:\n  s3:\n    region: us-east-1\n    bucket: images\nhttp:\n  addr: 127.0.0.1:0\n")
	select {
	case err := <-exited:
		if err == nil || !strings.Contains(out.String(), "StorageDriver not registered: s3") {
			t.Errorf("a configuration with S3 storage: exit %v, output:\n%s\nwant a refusal naming s3", err, out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("a configuration with S3 storage still runs after 30 s; want a refusal at startup")
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	out, exited, kill := start(launch.RegistryConfig(filepath.Join(dir, "storage"), addr))
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("Homeworld's configuration (filesystem storage): exited %v\n%s", err, out)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			kill()
			<-exited // its output is complete once it has exited
			t.Fatalf("Homeworld's configuration: GET /v2/ did not answer 200 within 30 s (last: %v)\n%s", err, out)
		}
	}
}
