// Package debversion parses and orders Debian package versions
// ([epoch:]upstream[-revision]) by the rules dpkg applies (Debian Policy
// 5.6.12), so a branch can refuse a package whose version would go backwards
// without asking dpkg. The apt branch builder imports it.
package debversion

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed Debian version.
type Version struct {
	Epoch    int
	Upstream string
	Revision string // "" when the version has no hyphen
}

// Parse splits s into epoch, upstream version and revision and checks the
// characters each part may hold, as dpkg does when it builds a package.
func Parse(s string) (Version, error) {
	var v Version
	rest := s
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		run, after := digits(rest[:i])
		e, err := strconv.Atoi(run)
		if err != nil || after != "" {
			return Version{}, fmt.Errorf("version %q: the epoch before ':' must be a non-negative number", s)
		}
		v.Epoch, rest = e, rest[i+1:]
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		v.Upstream, v.Revision = rest[:i], rest[i+1:]
		if v.Revision == "" {
			return Version{}, fmt.Errorf("version %q: empty revision after the last '-'", s)
		}
	} else {
		v.Upstream = rest
	}
	if v.Upstream == "" {
		return Version{}, fmt.Errorf("version %q: empty upstream version", s)
	}
	if !isDigit(v.Upstream[0]) {
		return Version{}, fmt.Errorf("version %q: the upstream version must start with a digit", s)
	}
	// A colon in the upstream part would be read as an epoch; a hyphen in it
	// is fine because the revision starts at the last one.
	for _, c := range []byte(v.Upstream) {
		if !isAlnum(c) && !strings.ContainsRune(".+~-", rune(c)) {
			return Version{}, fmt.Errorf("version %q: %q is not allowed in the upstream version", s, c)
		}
	}
	for _, c := range []byte(v.Revision) {
		if !isAlnum(c) && !strings.ContainsRune(".+~", rune(c)) {
			return Version{}, fmt.Errorf("version %q: %q is not allowed in the revision", s, c)
		}
	}
	return v, nil
}

// String is the version as dpkg writes it: the epoch only when non-zero.
func (v Version) String() string {
	s := v.NoEpoch()
	if v.Epoch != 0 {
		s = strconv.Itoa(v.Epoch) + ":" + s
	}
	return s
}

// NoEpoch is the version without its epoch, as .deb file names carry it.
func (v Version) NoEpoch() string {
	if v.Revision == "" {
		return v.Upstream
	}
	return v.Upstream + "-" + v.Revision
}

// Compare returns -1, 0 or +1 as a sorts before, equal to or after b.
func Compare(a, b Version) int {
	switch {
	case a.Epoch < b.Epoch:
		return -1
	case a.Epoch > b.Epoch:
		return 1
	}
	if c := comparePart(a.Upstream, b.Upstream); c != 0 {
		return c
	}
	return comparePart(a.Revision, b.Revision)
}

// comparePart orders an upstream version or revision: alternately a run of
// non-digits, compared character by character with '~' before everything
// (even the end) and letters before other characters, and a run of digits,
// compared as a number.
func comparePart(a, b string) int {
	for a != "" || b != "" {
		for (a != "" && !isDigit(a[0])) || (b != "" && !isDigit(b[0])) {
			ca, cb := weight(a), weight(b)
			if ca != cb {
				return sign(ca - cb)
			}
			a, b = a[1:], b[1:]
		}
		var na, nb string
		na, a = digits(a)
		nb, b = digits(b)
		na, nb = strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
		if len(na) != len(nb) {
			return sign(len(na) - len(nb))
		}
		if c := strings.Compare(na, nb); c != 0 {
			return c
		}
	}
	return 0
}

// weight ranks the first character of s among non-digit runs. The end of
// the string (or a digit, which ends the run) ranks 0, after '~' and before
// anything else.
func weight(s string) int {
	if s == "" || isDigit(s[0]) {
		return 0
	}
	c := s[0]
	switch {
	case c == '~':
		return -1
	case isAlpha(c):
		return int(c)
	default:
		return int(c) + 256
	}
}

func digits(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
