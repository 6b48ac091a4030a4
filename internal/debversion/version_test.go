package debversion

import (
	"os/exec"
	"testing"
)

var ordered = []string{
	"0~rc1", "0", "0.1~~", "0.1~", "0.1", "0.1-1", "0.1-1a", "0.1-1.1", "0.1-2", "0.1a",
	"0.1+b1", "0.1.0", "0.9", "0.10", "1.0~beta", "1.0", "1.0-0ubuntu1", "1.0.0", "1.00.1",
	"1.2", "1.10", "1:0", "1:0.1", "2:0~1",
}

func TestCompareOrder(t *testing.T) {
	for i, a := range ordered {
		va, err := Parse(a)
		if err != nil {
			t.Fatal(err)
		}
		for j, b := range ordered {
			vb, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			want := sign(i - j)
			if got := Compare(va, vb); got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestEqualSpellings(t *testing.T) {
	for _, p := range [][2]string{{"1.0", "0:1.0"}, {"1.0", "1.0-0"}, {"1.01", "1.1"}, {"1.0-1", "1.0-01"}} {
		a, _ := Parse(p[0])
		b, _ := Parse(p[1])
		if Compare(a, b) != 0 {
			t.Errorf("Compare(%q, %q) != 0", p[0], p[1])
		}
	}
}

// TestAgreesWithDpkg checks every ordered pair against dpkg itself, the
// authority on the rules this package reimplements.
func TestAgreesWithDpkg(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Fatal("dpkg not installed: this is not a Debian machine")
	}
	extra := []string{"1.0+dfsg-1", "1.0-1+deb12u1", "1.0-1~bpo11+1", "1.0a~", "1.0a", "1.0.a", "9:1-1", "1.0-1-1"}
	all := append(append([]string{}, ordered...), extra...)
	for _, a := range all {
		for _, b := range all {
			va, _ := Parse(a)
			vb, _ := Parse(b)
			mine := Compare(va, vb) < 0
			theirs := exec.Command(dpkg, "--compare-versions", a, "lt", b).Run() == nil
			if mine != theirs {
				t.Errorf("%q < %q: Compare says %v, dpkg says %v", a, b, mine, theirs)
			}
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in                 string
		epoch              int
		upstream, revision string
		str, noEpoch       string
	}{
		{"1.2", 0, "1.2", "", "1.2", "1.2"},
		{"3:1.2-4", 3, "1.2", "4", "3:1.2-4", "1.2-4"},
		{"0:1.2-3-4", 0, "1.2-3", "4", "1.2-3-4", "1.2-3-4"},
		{"1.0~rc1+git.5", 0, "1.0~rc1+git.5", "", "1.0~rc1+git.5", "1.0~rc1+git.5"},
	} {
		v, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if v.Epoch != tc.epoch || v.Upstream != tc.upstream || v.Revision != tc.revision || v.String() != tc.str || v.NoEpoch() != tc.noEpoch {
			t.Errorf("Parse(%q) = %+v (%q, %q)", tc.in, v, v.String(), v.NoEpoch())
		}
	}
	for _, bad := range []string{"", "a1.0", "1.0-", "x:1.0", ":1.0", "1:", "1.0_1", "1.0-a_b", "1 0", "-1"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", bad)
		}
	}
}
