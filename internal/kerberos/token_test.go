package kerberos

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// Malformed headers are refused with a reason and status, never a panic.
func TestParseAuthorizationRefusesBadHeaders(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
		reason  string
	}{
		{"none", nil, http.StatusUnauthorized, "run kinit"},
		{"two", []string{"Negotiate YQ==", "Negotiate YQ=="}, http.StatusBadRequest, "2 Authorization headers"},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, http.StatusUnauthorized, `"Basic" is not accepted`},
		{"not base64", []string{"Negotiate !!!"}, http.StatusBadRequest, "not base64"},
		{"empty token", []string{"Negotiate "}, http.StatusBadRequest, "not base64"},
		{"garbage", []string{"Negotiate " + b64([]byte("hello, gateway"))}, http.StatusBadRequest, "not a Kerberos token"},
		{"oversized", []string{"Negotiate " + strings.Repeat("A", MaxHeaderToken+4)}, http.StatusRequestHeaderFieldsTooLarge, "refused"},
		{"asn1 junk", []string{"Negotiate " + b64([]byte{0x60, 0x82, 0xff, 0xff, 0x06, 0x06, 0x2b, 0x06})}, http.StatusBadRequest, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ref := parseAuthorization(tc.headers)
			if ref == nil {
				t.Fatal("accepted")
			}
			if ref.Status != tc.status || !strings.Contains(ref.Reason, tc.reason) {
				t.Errorf("refusal = %d %q, want %d containing %q", ref.Status, ref.Reason, tc.status, tc.reason)
			}
		})
	}
}

func FuzzDecodeAPReq(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("hello"))
	f.Add([]byte{0x60, 0x82, 0x01, 0x00, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02})
	f.Add([]byte{0xa1, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, raw []byte) {
		apreq, err := decodeAPReq(raw) // must not panic
		if err == nil && apreq == nil {
			t.Fatal("no AP-REQ and no error")
		}
	})
}
