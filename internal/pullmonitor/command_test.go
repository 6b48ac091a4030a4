package pullmonitor

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommandNeedsAnImage(t *testing.T) {
	for _, args := range [][]string{{}, {"--image", "homeworld.private/pullcheck:1", "extra"}} {
		c := Command()
		c.SetArgs(args)
		c.SetOut(io.Discard)
		c.SetErr(io.Discard)
		if err := c.Execute(); err == nil {
			t.Errorf("pull-monitor %s ran; want a usage error", strings.Join(args, " "))
		}
	}
}

func TestCommandNeedsCtr(t *testing.T) {
	c := Command()
	c.SetArgs([]string{"--image", "homeworld.private/pullcheck:1", "--ctr", filepath.Join(t.TempDir(), "ctr"), "--listen", "127.0.0.1:0"})
	c.SetOut(io.Discard)
	c.SetErr(io.Discard)
	err := c.Execute()
	if err == nil || !strings.Contains(err.Error(), "ctr") || !strings.Contains(err.Error(), "--ctr") {
		t.Errorf("pull-monitor without ctr: %v; want an error saying ctr is missing", err)
	}
}

func TestSocketPath(t *testing.T) {
	for endpoint, want := range map[string]string{
		"/run/containerd/containerd.sock":        "/run/containerd/containerd.sock",
		"unix:///run/containerd/containerd.sock": "/run/containerd/containerd.sock",
		"unix:/run/containerd/containerd.sock":   "/run/containerd/containerd.sock",
		"containerd.sock":                        "containerd.sock",
	} {
		if got := SocketPath(endpoint); got != want {
			t.Errorf("SocketPath(%q) = %q, want %q", endpoint, got, want)
		}
	}
}

func TestDialTakesPathsAndURLs(t *testing.T) {
	for endpoint, want := range map[string]string{
		"/run/containerd/containerd.sock":        "unix:/run/containerd/containerd.sock",
		"unix:///run/containerd/containerd.sock": "unix:///run/containerd/containerd.sock",
		"containerd.sock":                        "unix:containerd.sock",
	} {
		conn, err := Dial(endpoint)
		if err != nil {
			t.Errorf("Dial(%q): %v", endpoint, err)
			continue
		}
		if got := conn.Target(); got != want {
			t.Errorf("Dial(%q) targets %q, want %q", endpoint, got, want)
		}
		conn.Close()
	}
}
