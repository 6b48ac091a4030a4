package credential

import "testing"

// TestOneSourceEach: a credential names an API operation exactly when it
// is obtained by one, and an authority or static file otherwise.
func TestOneSourceEach(t *testing.T) {
	for _, c := range Catalogue {
		byAPI := c.Type == Text || c.Type == TLSCert || c.Type == SSHCert
		if (c.API != "") != byAPI || (c.Source != "") == byAPI {
			t.Errorf("%s (%s): API %q, Source %q", c.Name, c.Type, c.API, c.Source)
		}
	}
}
