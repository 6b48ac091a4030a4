package debpkg

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"time"
)

// Maintainer is every package's Maintainer field.
const Maintainer = "Homeworld Maintainers <maintainers@homeworld.dev>"

// copyright is /usr/share/doc/NAME/copyright: who holds what the package
// carries and under which license. Homeworld's notice is dated by the
// commit the package is built from.
func (p Package) copyright(epoch time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is part of Homeworld, built from Homeworld's repository.\n\n", p.Name)
	b.WriteString("Homeworld\n")
	fmt.Fprintf(&b, "Copyright: %d the Homeworld authors\n", epoch.UTC().Year())
	b.WriteString("License: Homeworld's repository declares none yet.\n")
	for _, u := range p.Upstream {
		fmt.Fprintf(&b, "\n%s <%s>, built from the version pinned in Homeworld's upstream/\n", u.Name, u.Source)
		fmt.Fprintf(&b, "Copyright: %s\n", u.Copyright)
		fmt.Fprintf(&b, "License: %s\n", u.License)
		fmt.Fprintf(&b, " On Debian systems the license's full text is in /usr/share/common-licenses/%s.\n", u.License)
	}
	if len(p.Bins) > 0 || p.Images {
		b.WriteString("\nThe programs also contain the Go runtime and standard library\n")
		b.WriteString("(Copyright: The Go Authors; License: BSD-3-Clause) and the Go modules their\n")
		b.WriteString("pinned go.sum lists, each under its own license.\n")
	}
	return b.String()
}

// changelog is /usr/share/doc/NAME/changelog.gz, which Debian requires of
// a native package: one entry, for the commit the version names, dated by
// the epoch. gzip at best compression, with no name or time in its header.
func (p Package) changelog(version string, epoch time.Time) ([]byte, error) {
	text := fmt.Sprintf("%s (%s) unstable; urgency=medium\n\n"+
		"  * Built from Homeworld's repository at the commit this version names.\n\n"+
		" -- %s  %s\n", p.Name, version, Maintainer, epoch.UTC().Format(time.RFC1123Z))
	var buf bytes.Buffer
	z, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := z.Write([]byte(text)); err != nil {
		return nil, err
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// description is the control file's Description: the summary, then the
// extended description wrapped to fit a terminal, as Debian asks.
func (p Package) description() string {
	var b strings.Builder
	b.WriteString(p.Summary)
	line := 0
	for _, word := range strings.Fields(p.About) {
		if line > 0 && line+1+len(word) > 72 {
			line = 0
		}
		if line == 0 {
			b.WriteString("\n")
		} else {
			b.WriteString(" ")
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	return b.String()
}

// reloadScript is the postinst and postrm of a package that ships units:
// what Debian's debhelper does, telling a running systemd to read them
// again. Nothing is enabled or started: the node's setup does that for its
// kind.
const reloadScript = `#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
`

// lintianOverrides are the tags lintian reports that Homeworld keeps, each
// with the reason, shipped as /usr/share/lintian/overrides/NAME.
func (p Package) lintianOverrides() string {
	if len(p.Bins) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("# Go programs are statically linked by design. lintian exempts them when\n")
	b.WriteString("# a source package build-depends on Go; these are built by scripts/build.\n")
	for _, bin := range p.Bins {
		fmt.Fprintf(&b, "%s: statically-linked-binary [%s]\n", p.Name, strings.TrimPrefix(BinDir+"/"+bin, "/"))
	}
	return b.String()
}
