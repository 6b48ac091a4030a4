package kerberos

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// parseAuthorization extracts the Kerberos AP-REQ from the request's
// Authorization header: a SPNEGO NegTokenInit carrying it, or (as some
// clients send) the bare Kerberos GSS token.
func parseAuthorization(values []string) (*messages.APReq, *Refusal) {
	switch {
	case len(values) == 0:
		return nil, refuse(http.StatusUnauthorized, "no Kerberos ticket presented (no Authorization: Negotiate header): run kinit, then retry")
	case len(values) > 1:
		return nil, refuse(http.StatusBadRequest, "malformed Negotiate header: %d Authorization headers", len(values))
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Negotiate") {
		return nil, refuse(http.StatusUnauthorized, "Authorization scheme %q is not accepted: only Kerberos (Negotiate) is", clip(scheme, 20))
	}
	tok = strings.TrimSpace(tok)
	if len(tok) > MaxHeaderToken {
		return nil, refuse(http.StatusRequestHeaderFieldsTooLarge, "Negotiate token of %d bytes refused (at most %d)", len(tok), MaxHeaderToken)
	}
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || len(raw) == 0 {
		return nil, refuse(http.StatusBadRequest, "malformed Negotiate header: the token is not base64")
	}
	apreq, err := decodeAPReq(raw)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "malformed Negotiate header: %v", err)
	}
	return apreq, nil
}

// decodeAPReq unwraps SPNEGO and the GSS Kerberos token. gokrb5's ASN.1
// decoding is not hardened against hostile input, so a panic is an error.
func decodeAPReq(raw []byte) (apreq *messages.APReq, err error) {
	defer func() {
		if p := recover(); p != nil {
			apreq, err = nil, fmt.Errorf("undecodable token (%v)", p)
		}
	}()
	mech := raw
	var st spnego.SPNEGOToken
	if st.Unmarshal(raw) == nil {
		if !st.Init {
			return nil, fmt.Errorf("a SPNEGO response token where an initial one belongs")
		}
		if !hasKRB5(st.NegTokenInit) {
			return nil, fmt.Errorf("SPNEGO offers no Kerberos 5 mechanism (NTLM is not accepted)")
		}
		mech = st.NegTokenInit.MechTokenBytes
	}
	var k5 spnego.KRB5Token
	if err := k5.Unmarshal(mech); err != nil {
		return nil, fmt.Errorf("not a Kerberos token: %v", err)
	}
	if !k5.IsAPReq() {
		return nil, fmt.Errorf("the Kerberos token is not an AP-REQ")
	}
	return &k5.APReq, nil
}

func hasKRB5(init spnego.NegTokenInit) bool {
	for _, m := range init.MechTypes {
		if m.Equal(gssapi.OIDKRB5.OID()) || m.Equal(gssapi.OIDMSLegacyKRB5.OID()) {
			return true
		}
	}
	return false
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
