package registryfront_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/launch"
	"homeworld.dev/homeworld/internal/testutil"
	"homeworld.dev/homeworld/internal/upstreamtest"
)

// TestRegistryHoldsFilesystemStorageOnly: the pinned registry is built from
// a main of our own that links the filesystem driver and no cloud ones
// (their code was resident on the supervisor for nothing). It serves
// Homeworld's own configuration, and refuses one naming S3 at startup.
func TestRegistryHoldsFilesystemStorageOnly(t *testing.T) {
	registry := upstreamtest.Binary(t, "registry", "registry")
	dir := t.TempDir()
	start := func(config string) (out *testutil.Buffer, exited chan error) {
		path := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(registry, "serve", path)
		cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
		out = &testutil.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited = make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		return out, exited
	}

	out, exited := start("version: 0.1\nstorage:\n  s3:\n    region: us-east-1\n    bucket: images\nhttp:\n  addr: 127.0.0.1:0\n")
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
	out, exited = start(launch.RegistryConfig(filepath.Join(dir, "storage"), addr))
	testutil.WaitFor(t, 30*time.Second, "the registry with Homeworld's configuration (filesystem storage) to answer GET /v2/ with 200", func() (bool, error) {
		select {
		case err := <-exited:
			t.Fatalf("the registry with Homeworld's configuration exited: %v\n%s", err, out)
		default:
		}
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("%s", resp.Status)
	})
}
