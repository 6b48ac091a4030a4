package registryfront_test

import (
	"net"
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
	start := func(config string) *testutil.Child {
		path := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(registry, "serve", path)
		cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
		return testutil.StartChild(t, "the registry", cmd)
	}

	refused := start("version: 0.1\nstorage:\n  s3:\n    region: us-east-1\n    bucket: images\nhttp:\n  addr: 127.0.0.1:0\n")
	exited, err := refused.WaitExit(30 * time.Second)
	if !exited {
		t.Fatalf("a configuration with S3 storage still runs after 30 s; want a refusal at startup")
	}
	if err == nil || !strings.Contains(refused.Out.String(), "StorageDriver not registered: s3") {
		t.Errorf("a configuration with S3 storage: exit %v, output:\n%s\nwant a refusal naming s3", err, refused.Out.String())
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	start(launch.RegistryConfig(filepath.Join(dir, "storage"), addr)).WaitAnswers(t, 30*time.Second, "http://"+addr+"/v2/")
}
