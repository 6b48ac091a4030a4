package token

import "testing"

// Base64 decoding skips \r and \n, so Check accepted 22 characters holding
// line breaks whenever the 12-bit checksum happened to match.
func TestCheckRefusesLineBreaks(t *testing.T) {
	for _, s := range []string{"0000\n0000000000\n00000H", "AAAAAAAAA\rAAAAAAAAAA7f"} {
		if got, err := Check(s); err == nil {
			t.Errorf("Check(%q) = %q, want an error", s, got)
		}
	}
}
