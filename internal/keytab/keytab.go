// Package keytab keeps the cluster's Kerberos keytabs in the workspace,
// sealed with the disaster key as keytab.<node>.crypt: normally one, the
// supervisor's, whose key gateway accepts admins' Kerberos tickets with it.
// It imports, lists, exports and unseals them, and rotates their keys with
// MIT's k5srvutil. Only spire imports it.
package keytab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	gokeytab "github.com/jcmturner/gokrb5/v8/keytab"
)

// Entry is one key of a keytab, without the key itself.
type Entry struct {
	Principal string // e.g. HTTP/supervisor.cluster.example.org@EXAMPLE.ORG
	KVNO      uint32
	Enctype   string // e.g. aes256-cts-hmac-sha1-96
	Timestamp time.Time
}

// magic begins every MIT keytab of the format in use since krb5 1.0.
var magic = []byte{0x05, 0x02}

// errNotKeytab is why a file is refused; callers name the file.
var errNotKeytab = errors.New("not an MIT keytab: it does not begin with the keytab bytes 05 02 (make one with kadmin's `ktadd -k FILE PRINCIPAL...`)")

// Parse reads the entries of an MIT keytab. Its errors never quote data,
// which may hold keys.
func Parse(data []byte) (entries []Entry, err error) {
	if len(data) < 2 || data[0] != magic[0] || data[1] != magic[1] {
		return nil, errNotKeytab
	}
	if !framed(data[2:]) {
		return nil, errCorrupt
	}
	var kt gokeytab.Keytab
	// gokrb5's errors quote the raw bytes, keys included; and it skips some
	// of its own checks, so a corrupt file must not crash spire either.
	defer func() {
		if recover() != nil {
			entries, err = nil, errCorrupt
		}
	}()
	if kt.Unmarshal(data) != nil {
		return nil, errCorrupt
	}
	for _, e := range kt.Entries {
		if e.Principal.Realm == "" || len(e.Principal.Components) == 0 || len(e.Key.KeyValue) == 0 {
			return nil, errCorrupt
		}
		entries = append(entries, Entry{
			Principal: e.Principal.String(),
			KVNO:      e.KVNO,
			Enctype:   enctypeName(e.Key.KeyType),
			Timestamp: e.Timestamp,
		})
	}
	if len(entries) == 0 {
		return nil, errors.New("the keytab holds no keys")
	}
	return entries, nil
}

var errCorrupt = errors.New("the keytab is corrupt or truncated")

// framed reports whether records, the keytab after its first two bytes,
// is a run of length-prefixed entries (a negative length is a deleted one)
// that fills it exactly, up to a zero length if any. gokrb5 ignores a
// truncated tail shorter than a length.
func framed(records []byte) bool {
	for len(records) > 0 {
		if len(records) < 4 {
			return false
		}
		n := int64(int32(binary.BigEndian.Uint32(records)))
		if n == 0 {
			return true
		}
		n = max(n, -n)
		if int64(len(records)-4) < n {
			return false
		}
		records = records[4+n:]
	}
	return true
}

// enctypeNames are the names MIT's tools print for the enctypes they make.
var enctypeNames = map[int32]string{
	etypeID.DES3_CBC_SHA1_KD:           "des3-cbc-sha1",
	etypeID.AES128_CTS_HMAC_SHA1_96:    "aes128-cts-hmac-sha1-96",
	etypeID.AES256_CTS_HMAC_SHA1_96:    "aes256-cts-hmac-sha1-96",
	etypeID.AES128_CTS_HMAC_SHA256_128: "aes128-cts-hmac-sha256-128",
	etypeID.AES256_CTS_HMAC_SHA384_192: "aes256-cts-hmac-sha384-192",
	etypeID.RC4_HMAC:                   "arcfour-hmac",
	etypeID.CAMELLIA128_CTS_CMAC:       "camellia128-cts-cmac",
	etypeID.CAMELLIA256_CTS_CMAC:       "camellia256-cts-cmac",
}

func enctypeName(id int32) string {
	if name, ok := enctypeNames[id]; ok {
		return name
	}
	return fmt.Sprintf("enctype-%d", id)
}

// Newest is each principal's highest kvno.
func Newest(entries []Entry) map[string]uint32 {
	m := map[string]uint32{}
	for _, e := range entries {
		if e.KVNO > m[e.Principal] {
			m[e.Principal] = e.KVNO
		}
	}
	return m
}

// Principals lists the entries' principals once each, sorted.
func Principals(entries []Entry) []string {
	return slices.Sorted(maps.Keys(Newest(entries)))
}

// Versions describes each principal's kvnos, one line each, e.g.
// "HTTP/sup.example.org@EXAMPLE.ORG kvno 2,3".
func Versions(entries []Entry) string {
	kvnos := map[string]map[uint32]bool{}
	for _, e := range entries {
		if kvnos[e.Principal] == nil {
			kvnos[e.Principal] = map[uint32]bool{}
		}
		kvnos[e.Principal][e.KVNO] = true
	}
	var b strings.Builder
	for _, p := range Principals(entries) {
		var s []string
		for _, k := range slices.Sorted(maps.Keys(kvnos[p])) {
			s = append(s, strconv.FormatUint(uint64(k), 10))
		}
		fmt.Fprintf(&b, "%s kvno %s\n", p, strings.Join(s, ","))
	}
	return b.String()
}
