package aptbranch

import (
	"fmt"
	"regexp"
)

// nameRE bounds branch and suite names: they become file names
// (homeworld-<branch>.list), URL path segments and sources.list words.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,62}$`)

func checkName(what, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%s %q: use lower-case letters, digits, '.' and '-', starting with a letter or digit (at most 63)", what, name)
	}
	return nil
}
