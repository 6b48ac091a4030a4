// Package version reports which build of Homeworld is running. Every binary
// prints it for --version, and nodes report it so mixed versions are visible.
package version

import (
	"fmt"
	"runtime/debug"
)

// stamped is set at link time by release builds (-X); plain `go build` leaves
// it empty and the VCS data Go embeds is used instead.
var stamped string

// String describes the build: a release version, or the commit it was built
// from, marked dirty if the tree had changes.
func String() string {
	if stamped != "" {
		return stamped
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "-dirty"
			}
		}
	}
	if rev == "" {
		// Recent Go stamps the main module with a VCS pseudo-version instead.
		if v := info.Main.Version; v != "" && v != "(devel)" {
			return fmt.Sprintf("%s (%s)", v, info.GoVersion)
		}
		return "devel (" + info.GoVersion + ")"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return fmt.Sprintf("devel-%s%s (%s)", rev, modified, info.GoVersion)
}
