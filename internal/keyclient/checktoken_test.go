package keyclient

import (
	"bytes"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/token"
)

// check-token, as the installer's prompt runs it: the token on standard
// input, the token back on success, the reason and a failure otherwise.
func TestCheckToken(t *testing.T) {
	tok, err := token.New()
	if err != nil {
		t.Fatal(err)
	}
	// Another checksum character is always caught as a typo.
	typo := []byte(tok)
	if typo[len(typo)-1] == 'A' {
		typo[len(typo)-1] = 'B'
	} else {
		typo[len(typo)-1] = 'A'
	}
	for _, tc := range []struct {
		in, out, err string
	}{
		{in: "  " + tok + " \n", out: tok + "\n"},
		{in: string(typo) + "\n", err: "mistyped"},
		{in: "\n", err: "a token has 22 characters, this one 0"},
		{in: tok[:10] + "\n" + tok[10:] + "\n", err: "22 characters"},
	} {
		c := Command()
		var out bytes.Buffer
		c.SetArgs([]string{"check-token"})
		c.SetIn(strings.NewReader(tc.in))
		c.SetOut(&out)
		err := c.Execute()
		switch {
		case tc.err == "" && (err != nil || out.String() != tc.out):
			t.Errorf("check-token %q: %v, printed %q, want %q", tc.in, err, out.String(), tc.out)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || out.Len() != 0):
			t.Errorf("check-token %q: %v (printed %q), want an error saying %q", tc.in, err, out.String(), tc.err)
		}
	}
}
