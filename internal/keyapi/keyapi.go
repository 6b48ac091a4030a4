// Package keyapi is the keyserver's wire protocol and its Go client. Requests
// are batches of operations, each naming an API and carrying a text body
// (a CSR, a public key, a principal, or nothing); the response holds one
// result per operation, or an error naming the failing operation. The
// keyserver, the keyclient and spire import it.
package keyapi

import (
	"errors"
	"fmt"
	"net/http"
)

// URL paths (version 1 of the protocol).
const (
	PathAPI     = "/v1/apirequest"
	PathPub     = "/v1/pub/"    // + authority name
	PathStatic  = "/v1/static/" // + file name
	PathHealthz = "/healthz"
	PathMetrics = "/metrics"
)

// ServerURI marks the keyserver's own certificate. Only the keyserver puts
// it in a certificate (its policy grants no URI names), so a client that
// requires it cannot be fooled by another credential from the same CA, such
// as the registry's.
const ServerURI = "urn:homeworld:keyserver"

// GatewayURI marks the Kerberos key gateway's HTTPS certificate, as
// ServerURI marks the keyserver's: each one's clients refuse the other,
// though both name the supervisor.
const GatewayURI = "urn:homeworld:keygateway"

// BreakGlassOrg is the organization of an admin identity minted with the
// disaster key (access.ConnectDirect) instead of obtained through Kerberos;
// the keyserver marks every audit line of such a request.
const BreakGlassOrg = "homeworld:break-glass"

// TokenHeader carries an admission token in place of a client certificate.
const TokenHeader = "X-Homeworld-Token"

// Request is one operation of a batch.
type Request struct {
	API  API    `json:"api"`
	Body string `json:"body"`
}

// Batch is the body of an API request.
type Batch struct {
	Requests []Request `json:"requests"`
}

// Results is the body of a successful API response: one result per request,
// in order.
type Results struct {
	Results []string `json:"results"`
}

// Error is the body of a failed response, and the client's error value.
// Status distinguishes the causes: 401 the caller could not be identified,
// 403 the caller may not call API, 400 the request itself is wrong.
type Error struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	API     API    `json:"api,omitempty"`
	Index   int    `json:"index,omitempty"` // of the failing operation in the batch
}

func (e *Error) Error() string {
	prefix := fmt.Sprintf("keyserver: %d %s", e.Status, http.StatusText(e.Status))
	if e.API != "" {
		prefix += fmt.Sprintf(" (operation %d, %s)", e.Index, e.API)
	}
	return prefix + ": " + e.Message
}

// IsForbidden reports whether err is a refusal by policy.
func IsForbidden(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusForbidden
}
