package debpkg

import (
	"fmt"
	"regexp"
)

// nativeVersion is a Debian version without epoch or revision (Homeworld's
// packages are native: built from its own repository), starting with a
// digit as Debian policy requires.
var nativeVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)

// CheckVersion refuses what dpkg would not take as a native version, such
// as git describe's "v1.2-3-gabc".
func CheckVersion(v string) error {
	if !nativeVersion.MatchString(v) {
		return fmt.Errorf("debpkg: version %q: want a digit, then letters, digits, '.', '+' or '~' (e.g. 0.0.812+g6a3f589)", v)
	}
	return nil
}
