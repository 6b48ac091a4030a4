package credential

import "testing"

// TestOneSourceEach: a credential names exactly the source its type is
// obtained from.
func TestOneSourceEach(t *testing.T) {
	for _, c := range Catalogue {
		byAPI := c.Type == Text || c.Type == TLSCert || c.Type == SSHCert
		if (c.API != "") != byAPI || (c.Authority != "") != (c.Type == Authority) || (c.Static != "") != (c.Type == Static) {
			t.Errorf("%s (%s): API %q, authority %q, static %q", c.Name, c.Type, c.API, c.Authority, c.Static)
		}
	}
}

// TestDistinctFiles: no two credentials, nor a key and a certificate, share
// a file.
func TestDistinctFiles(t *testing.T) {
	seen := map[string]string{}
	for _, c := range Catalogue {
		for _, p := range []string{c.Path, c.KeyPath} {
			if p == "" {
				continue
			}
			if other, dup := seen[p]; dup {
				t.Errorf("%s and %s both write %s", other, c.Name, p)
			}
			seen[p] = c.Name
		}
	}
}
