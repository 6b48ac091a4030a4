package aptbranch

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// releaseInfo is what the Release file says about the branch itself.
type releaseInfo struct {
	name, suite string
	date        time.Time
	archs       []string
}

// release is the suite's Release file: who made it and when, then the size
// and hashes of every index (paths relative to dists/<suite>/), which is
// how apt checks each index against the one signed file. MD5Sum is there
// for old tools only; apt trusts SHA256.
func release(info releaseInfo, indexes map[string][]byte) []byte {
	paths := make([]string, 0, len(indexes))
	for p := range indexes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	hashes := func(sum func([]byte) string) string {
		var b strings.Builder
		for _, p := range paths {
			fmt.Fprintf(&b, "\n %s %8d %s", sum(indexes[p]), len(indexes[p]), p)
		}
		return b.String()
	}
	s := Stanza{
		{"Origin", "Homeworld"},
		{"Label", "Homeworld " + info.name},
		{"Suite", info.suite},
		{"Codename", info.suite},
		{"Date", info.date.UTC().Format(time.RFC1123)},
		{"Architectures", strings.Join(info.archs, " ")},
		{"Components", component},
		{"Description", "Homeworld apt branch " + info.name},
		{"MD5Sum", hashes(func(b []byte) string { h := md5.Sum(b); return hex.EncodeToString(h[:]) })},
		{"SHA256", hashes(func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) })},
	}
	return []byte(s.String())
}
