package token

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// FuzzCheck feeds arbitrary text to Check: it must never panic, and what it
// accepts must be a token as New writes them, which Check accepts again.
func FuzzCheck(f *testing.F) {
	tok, err := New()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{tok, " " + tok + "\n", tok[:Len-1], tok + "A", tok[:bodyLen] + "AA", "", "AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAA=AA", strings.Repeat("é", 11)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Check(s)
		if err != nil {
			return
		}
		if len(got) != Len || got != strings.TrimSpace(s) {
			t.Fatalf("Check(%q) = %q", s, got)
		}
		if strings.Trim(got, alphabet) != "" {
			t.Errorf("Check(%q) accepts %q, which has characters no token has", s, got)
		}
		if again, err := Check(got); err != nil || again != got {
			t.Errorf("Check(%q) = %q, %v; it accepted it before", got, again, err)
		}
	})
}

// FuzzTypo makes a token the way New does from fuzzed secret bytes, changes
// one character, and checks that the change is caught or, when it is a
// checksum collision, at least never yields the original token. A change
// in the checksum itself, or to a character no token has, is always caught.
func FuzzTypo(f *testing.F) {
	tok, _ := New()
	secret, _ := base64.RawStdEncoding.DecodeString(tok[:bodyLen])
	f.Add(secret, uint8(0), byte('A'))
	f.Add(secret, uint8(bodyLen), byte('z'))
	f.Add(make([]byte, secretBytes), uint8(5), byte('\n'))
	f.Add([]byte("fifteen bytes!!"), uint8(21), byte(' '))
	f.Fuzz(func(t *testing.T, secret []byte, pos uint8, c byte) {
		secret = append(secret, make([]byte, secretBytes)...)[:secretBytes]
		body := base64.RawStdEncoding.EncodeToString(secret)
		tok := body + checksum(body)
		if got, err := Check(tok); err != nil || got != tok {
			t.Fatalf("Check(%q) = %q, %v", tok, got, err)
		}
		p := int(pos) % Len
		typo := tok[:p] + string([]byte{c}) + tok[p+1:]
		if typo == tok {
			return
		}
		got, err := Check(typo)
		switch {
		case err == nil && got == tok:
			t.Fatalf("Check(%q) undid the typo", typo)
		case err == nil && (p >= bodyLen || !strings.ContainsRune(alphabet, rune(c))):
			t.Fatalf("Check(%q) = %q: a typo at %d (%q) was not caught", typo, got, p, c)
		case err != nil && !errors.Is(err, ErrTypo) && strings.ContainsRune(alphabet, rune(c)):
			t.Errorf("Check(%q) = %v, want ErrTypo", typo, err)
		}
	})
}
