// Package kerberos authenticates HTTP requests by Kerberos tickets
// (SPNEGO, "Authorization: Negotiate", RFC 4559) and makes such requests
// from an operator's ticket cache, with gokrb5. The key gateway and
// user-grant accept tickets with it; spire and auth-monitor present them.
// It decides who a request comes from, never what that principal may do.
package kerberos

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/types"
)

// DefaultMaxSkew is MIT Kerberos' default clockskew: an authenticator
// further than this from the acceptor's clock is refused.
const DefaultMaxSkew = 5 * time.Minute

// MaxHeaderToken bounds the Negotiate token (base64). Real tickets are a
// few kilobytes; Active Directory's largest with many groups stay under
// 48 KiB.
const MaxHeaderToken = 64 << 10

// Acceptor checks tickets for one service principal with the keys of a
// keytab file, which it rereads when the file changes (a rotated keytab
// takes effect without a restart).
type Acceptor struct {
	// Service is the principal tickets must be for, without realm, e.g.
	// "HTTP/supervisor.example.org".
	Service string
	Realm   string
	MaxSkew time.Duration // default DefaultMaxSkew; see UseRealmSkew
	// Now is the acceptor's clock for the checks it makes itself
	// (expiry); gokrb5 checks skew against the system clock.
	Now func() time.Time

	keys *keytabFile
	skew *realmSkew
}

// UseRealmSkew takes the allowed clock skew from the realm's krb5.conf
// at path (libdefaults clockskew, MIT's default 5 minutes), rereading it
// when it changes.
func (a *Acceptor) UseRealmSkew(path string) { a.skew = &realmSkew{path: path} }

// NewAcceptor returns an acceptor for service@realm using the keytab at path.
func NewAcceptor(path, service, realm string) *Acceptor {
	return &Acceptor{Service: service, Realm: realm, MaxSkew: DefaultMaxSkew, Now: time.Now, keys: &keytabFile{path: path}}
}

// Identity is an authenticated client.
type Identity struct {
	Principal string // name@REALM
	Name      string // name, with instance if any ("alice", "host/x")
	Realm     string
	Expires   time.Time // the ticket's end
}

// Refusal is why a request was not authenticated, for the client (Status,
// Reason) and for the audit log (Principal when the ticket revealed it,
// Service when the ticket was for another service).
type Refusal struct {
	Status    int
	Reason    string
	Principal string
	Service   string
}

func (r *Refusal) Error() string { return r.Reason }

// Detail is the refusal for an audit line: the reason, and the service a
// ticket for another one was for (its client is hidden in it).
func (r *Refusal) Detail() string {
	if r.Service != "" {
		return r.Reason + " (ticket for " + r.Service + ")"
	}
	return r.Reason
}

func refuse(status int, format string, args ...any) *Refusal {
	return &Refusal{Status: status, Reason: fmt.Sprintf(format, args...)}
}

// Challenge answers a refused request: 401 with the Negotiate challenge, so
// browsers and curl --negotiate know to send a ticket.
func Challenge(w http.ResponseWriter, ref *Refusal) {
	if ref.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Negotiate")
	}
	http.Error(w, ref.Reason, ref.Status)
}

// Authenticate checks the request's Negotiate token.
func (a *Acceptor) Authenticate(r *http.Request) (*Identity, *Refusal) {
	kt, err := a.keys.get()
	if err != nil {
		return nil, refuse(http.StatusServiceUnavailable, "%v", err)
	}
	apreq, ref := parseAuthorization(r.Header.Values("Authorization"))
	if ref != nil {
		return nil, ref
	}
	want := a.Service + "@" + a.Realm
	got := apreq.Ticket.SName.PrincipalNameString() + "@" + apreq.Ticket.Realm
	if got != want {
		ref := refuse(http.StatusUnauthorized, "the ticket is for %s, not for this service (%s): ask for a ticket for %s", got, want, want)
		ref.Service = got
		return nil, ref
	}
	skew := a.MaxSkew
	if a.skew != nil {
		skew = a.skew.get()
	}
	opts := []func(*service.Settings){service.MaxClockSkew(skew), service.DecodePAC(false)}
	if h, err := types.GetHostAddress(r.RemoteAddr); err == nil {
		opts = append(opts, service.ClientAddress(h))
	}
	settings := service.NewSettings(kt, opts...)
	ok, creds, err := verify(apreq, settings)
	principal := ""
	if cn := apreq.Ticket.DecryptedEncPart.CName; len(cn.NameString) > 0 {
		principal = cn.PrincipalNameString() + "@" + apreq.Ticket.DecryptedEncPart.CRealm
	}
	if err != nil || !ok {
		ref := refuse(http.StatusUnauthorized, "%s", explain(err))
		ref.Principal = principal
		return nil, ref
	}
	end := apreq.Ticket.DecryptedEncPart.EndTime
	if !a.Now().Before(end) {
		// gokrb5 would accept a ticket up to MaxSkew past its end.
		ref := refuse(http.StatusUnauthorized, "the ticket expired at %s: run kinit", end.UTC().Format(time.RFC3339))
		ref.Principal = principal
		return nil, ref
	}
	return &Identity{
		Principal: creds.CName().PrincipalNameString() + "@" + creds.Realm(),
		Name:      creds.CName().PrincipalNameString(),
		Realm:     creds.Realm(),
		Expires:   end,
	}, nil
}

// verify runs gokrb5's checks (ticket decryption, times, authenticator,
// replay), turning a panic on hostile input into a refusal.
func verify(apreq *messages.APReq, s *service.Settings) (ok bool, creds credentialsView, err error) {
	defer func() {
		if p := recover(); p != nil {
			ok, err = false, fmt.Errorf("malformed ticket (%v)", p)
		}
	}()
	ok, c, err := service.VerifyAPREQ(apreq, s)
	if c != nil {
		creds = c
	}
	return ok, creds, err
}

// credentialsView is what Authenticate reads of gokrb5's credentials.
type credentialsView interface {
	CName() types.PrincipalName
	Realm() string
}

// explain turns gokrb5's errors into what the client should do.
func explain(err error) string {
	if err == nil {
		return "the ticket was not accepted"
	}
	var krbErr messages.KRBError
	if errors.As(err, &krbErr) {
		switch krbErr.ErrorCode {
		case errorcode.KRB_AP_ERR_TKT_EXPIRED:
			return "the ticket has expired: run kinit"
		case errorcode.KRB_AP_ERR_TKT_NYV:
			return "the ticket is not valid yet (check the client's clock)"
		case errorcode.KRB_AP_ERR_SKEW:
			return "the client's clock differs from the server's by more than the allowed skew: fix the clock (NTP)"
		case errorcode.KRB_AP_ERR_REPEAT:
			return "replayed authenticator: this Negotiate token was already used"
		case errorcode.KRB_AP_ERR_NOKEY:
			return "the ticket is sealed with a key this server does not have (the keytab is older or newer than the KDC's key: spire keytab / setup update-keygateway)"
		case errorcode.KRB_AP_ERR_BADADDR:
			return "the ticket is bound to other client addresses"
		case errorcode.KRB_AP_ERR_BAD_INTEGRITY, errorcode.KRB_AP_ERR_BADMATCH:
			return "the authenticator does not match the ticket"
		}
		return "ticket refused: " + strings.TrimSpace(krbErr.EText)
	}
	msg := err.Error()
	if strings.Contains(msg, "decrypting") {
		return "the ticket could not be decrypted with this server's keys (the keytab does not match the KDC's key)"
	}
	return "ticket refused: " + msg
}
