package pullmonitor

import (
	"io"
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
