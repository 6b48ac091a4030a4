package access_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/audit"
	"homeworld.dev/homeworld/internal/keyapi"
)

// TestConnectDirectIsAuditedAsBreakGlass: every audit line of a batch made
// with the disaster-key identity says so; a node's ordinary call does not.
func TestConnectDirectIsAuditedAsBreakGlass(t *testing.T) {
	admin, c := connect(t)
	lines := func(from int) []audit.Event {
		var out []audit.Event
		for _, l := range strings.Split(strings.TrimSpace(c.AuditLog()[from:]), "\n") {
			var ev audit.Event
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("audit line %q: %v", l, err)
			}
			out = append(out, ev)
		}
		return out
	}
	before := len(c.AuditLog())
	if _, err := admin.Admit(context.Background(), "worker1"); err != nil {
		t.Fatal(err)
	}
	got := lines(before)
	if len(got) < 2 { // the grant and the token issue
		t.Fatalf("admission left %d audit lines", len(got))
	}
	for _, ev := range got {
		if ev.Auth != "break-glass" || ev.Principal != "admin" {
			t.Errorf("%s line of %s: auth %q, want break-glass", ev.Action, ev.Principal, ev.Auth)
		}
	}

	before = len(c.AuditLog())
	if _, err := c.NodeClient("worker1").Call1(context.Background(), "", keyapi.GetLocalConfig, ""); err != nil {
		t.Fatal(err)
	}
	for _, ev := range lines(before) {
		if ev.Auth == "break-glass" {
			t.Errorf("a node's call is audited as break-glass: %+v", ev)
		}
	}
}
