package usergrant

import (
	"strings"
	"testing"
)

func TestUserFor(t *testing.T) {
	const realm = "HOMEWORLD.TEST"
	for _, tc := range []struct {
		principal, user, err string
	}{
		{"alice@HOMEWORLD.TEST", "alice", ""},
		{"b0b-2@HOMEWORLD.TEST", "b0b-2", ""},
		{"ab@HOMEWORLD.TEST", "ab", ""},
		{strings.Repeat("a", 32) + "@HOMEWORLD.TEST", strings.Repeat("a", 32), ""},
		{strings.Repeat("a", 33) + "@HOMEWORLD.TEST", "", "2 to 32"},
		{"a@HOMEWORLD.TEST", "", "2 to 32"},
		{"alice/admin@HOMEWORLD.TEST", "", "has an instance"},
		{"host/supervisor.homeworld.test@HOMEWORLD.TEST", "", "has an instance"},
		{"alice@OTHER.TEST", "", "not a user of this cluster's realm HOMEWORLD.TEST"},
		{"alice@homeworld.test", "", "not a user of this cluster's realm"},
		{"alice", "", "has no realm"},
		{"Alice@HOMEWORLD.TEST", "", "lowercase"},
		{"carol_x@HOMEWORLD.TEST", "", "lowercase"},
		{"1alice@HOMEWORLD.TEST", "", "starting with a letter"},
		{"alice-@HOMEWORLD.TEST", "", "not ending with '-'"},
		{"al.ice@HOMEWORLD.TEST", "", "lowercase"},
		{"@HOMEWORLD.TEST", "", "2 to 32"},
	} {
		user, err := UserFor(tc.principal, realm)
		switch {
		case tc.err == "" && (err != nil || user != tc.user):
			t.Errorf("UserFor(%q) = %q, %v; want %q", tc.principal, user, err, tc.user)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.principal)):
			t.Errorf("UserFor(%q) = %q, %v; want an error naming the principal and saying %q", tc.principal, user, err, tc.err)
		}
	}
}
