package token

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A claim that was released is stale: committing it must not spend the token
// a later claim holds, or the token is committed twice.
func TestStaleClaimCannotCommit(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "tokens.json"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ := s.Issue("n", time.Hour)
	c1, _ := s.Reserve(tok)
	c1.Release()
	c2, err := s.Reserve(tok)
	if err != nil {
		t.Fatal(err)
	}
	err1, err2 := c1.Commit(), c2.Commit()
	if err1 == nil && err2 == nil {
		t.Fatal("a released claim and the next one both committed the same token")
	}
}

// Releasing a claim twice must not free the reservation another claim holds.
func TestDoubleReleaseKeepsOthersReservation(t *testing.T) {
	s, _ := Open(filepath.Join(t.TempDir(), "tokens.json"), time.Now)
	tok, _, _ := s.Issue("n", time.Hour)
	c1, _ := s.Reserve(tok)
	c1.Release()
	c2, err := s.Reserve(tok)
	if err != nil {
		t.Fatal(err)
	}
	c1.Release()
	if c3, err := s.Reserve(tok); err == nil {
		t.Fatalf("token reserved twice at once (%p and %p)", c2, c3)
	}
}

// Committing a stale claim whose token has since been purged must fail, not
// crash the keyserver.
func TestStaleClaimOfPurgedToken(t *testing.T) {
	now := time.Now()
	s, _ := Open(filepath.Join(t.TempDir(), "tokens.json"), func() time.Time { return now })
	tok, _, _ := s.Issue("n", time.Hour)
	c, _ := s.Reserve(tok)
	c.Release()
	now = now.Add(2 * time.Hour)
	s.Issue("m", time.Hour) // purges the expired token
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Commit panicked: %v", r)
		}
	}()
	if err := c.Commit(); err == nil {
		t.Fatal("committed a claim whose token no longer exists")
	}
}

// A damaged store file is refused with an error, not a crash.
func TestOpenNullEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	os.WriteFile(path, []byte(`{"version":1,"tokens":[null]}`), 0o600)
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Open panicked: %v", r)
		}
	}()
	if _, err := Open(path, time.Now); err == nil {
		t.Error("Open accepted a null entry")
	}
}

// The store writes each entry's encoding once and keeps it until the entry
// changes; the file is still what json.MarshalIndent makes of it all.
func TestFileIsIndentedJSONOfEveryEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	s, _ := Open(path, time.Now)
	var toks []string
	for _, p := range []string{"a", "b", "c"} {
		tok, _, err := s.Issue(p, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	c, _ := s.Reserve(toks[1])
	if err := c.CommitFor("key"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("%v in:\n%s", err, data)
	}
	want, _ := json.MarshalIndent(f, "", "  ")
	if string(data) != string(want) {
		t.Errorf("file:\n%s\nwant:\n%s", data, want)
	}
	if len(f.Tokens) != 3 || f.Tokens[1].Principal != "b" || f.Tokens[1].Used == nil || f.Tokens[1].Key != "key" || f.Tokens[0].Used != nil {
		t.Errorf("entries %+v %+v %+v", f.Tokens[0], f.Tokens[1], f.Tokens[2])
	}
}
