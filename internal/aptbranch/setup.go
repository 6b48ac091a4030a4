package aptbranch

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// SetupFile is one file of the homeworld-apt-setup package.
type SetupFile struct {
	Path string // absolute, on the machine it is installed on
	Data []byte
	Mode os.FileMode
}

// KeyringPath is where a machine keeps the key it trusts branch's
// packages by: apt's place for keyrings that only signed-by names.
func KeyringPath(branch string) string {
	return "/usr/share/keyrings/homeworld-" + branch + ".gpg"
}

// SourcesPath is the sources list that points a machine at branch.
func SourcesPath(branch string) string {
	return "/etc/apt/sources.list.d/homeworld-" + branch + ".list"
}

// SetupFiles returns the files of homeworld-apt-setup for branch: the
// branch-signing public key as a binary keyring, and a sources list
// trusting that key, and only that key, for the branch served at baseURL
// (the folder `spire branch build` published as --out).
func SetupFiles(branch, baseURL, suite string, keyring []byte) ([]SetupFile, error) {
	if suite == "" {
		suite = branch
	}
	if err := checkName("branch name", branch); err != nil {
		return nil, err
	}
	if err := checkName("suite", suite); err != nil {
		return nil, err
	}
	if err := checkURL(baseURL); err != nil {
		return nil, err
	}
	if len(keyring) == 0 || keyring[0]&0x80 == 0 {
		return nil, errors.New("the keyring must be a binary OpenPGP public key (apt's .gpg keyrings are not armored)")
	}
	list := fmt.Sprintf("# Homeworld apt branch %s, from the homeworld-apt-setup package.\n"+
		"deb [signed-by=%s] %s %s %s\n", branch, KeyringPath(branch), baseURL, suite, component)
	return []SetupFile{
		{Path: KeyringPath(branch), Data: keyring, Mode: 0o644},
		{Path: SourcesPath(branch), Data: []byte(list), Mode: 0o644},
	}, nil
}

// checkURL accepts an http or https URL that is one word in sources.list.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("branch URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("branch URL %q: want http://HOST/PATH or https://HOST/PATH", raw)
	}
	if strings.ContainsAny(raw, " \t\n[]") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("branch URL %q: no spaces, brackets, query or fragment", raw)
	}
	return nil
}
