package keyclient

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"homeworld.dev/homeworld/internal/pki"
)

// Credentials are renewed at renewEarliest of their lifetime, plus up to
// renewSpread so nodes admitted together do not all renew together.
const (
	renewEarliest = 0.62
	renewSpread   = 0.08
)

// renewFraction picks when, as a fraction of its lifetime, to renew a
// credential: about two thirds.
func (a *Agent) renewFraction() float64 { return renewEarliest + renewSpread*a.opts.Rand.Float64() }

// issuedAt is when the keyserver issued a certificate by its own clock:
// certificates are backdated by pki.Backdate to tolerate slow clocks.
func issuedAt(notBefore, notAfter time.Time) time.Time {
	issued := notBefore.Add(pki.Backdate)
	if issued.After(notAfter) {
		return notBefore
	}
	return issued
}

// renewPoint is the moment a fraction of a certificate's lifetime, counted
// from its issue, has passed.
func renewPoint(notBefore, notAfter time.Time, fraction float64) time.Time {
	issued := issuedAt(notBefore, notAfter)
	return issued.Add(time.Duration(float64(notAfter.Sub(issued)) * fraction))
}

// skewError refuses a certificate that this node's clock considers expired,
// or due for renewal, the moment it arrives.
type skewError struct {
	notAfter time.Time
	expired  bool
	skew     time.Duration
	// install: keep the certificate anyway (see requestTLS).
	install bool
}

func (e *skewError) Error() string {
	state := "is already due for renewal"
	if e.expired {
		state = "has already expired"
	}
	return fmt.Sprintf("the certificate just issued (valid until %s) %s by this node's clock: %s",
		e.notAfter.UTC().Format(time.RFC3339), state, clockOff(e.skew, "about"))
}

// clockOff says how far this node's clock is off and what to do about it.
func clockOff(skew time.Duration, qualifier string) string {
	dir := "ahead of"
	if skew < 0 {
		dir, skew = "behind", -skew
	}
	return fmt.Sprintf("this node's clock is %s the keyserver's by %s %s; fix the clock (NTP)", dir, qualifier, roughly(skew))
}

// checkFresh records how far this node's clock is from the keyserver's, by
// when the keyserver issued a certificate just received, and refuses the
// certificate if by this node's clock it would need renewing at once:
// installing it would only make the agent ask again, as fast as it can.
func (a *Agent) checkFresh(notBefore, notAfter time.Time) error {
	now := a.opts.Now()
	issued := issuedAt(notBefore, notAfter)
	skew := now.Sub(issued)
	a.mu.Lock()
	a.skew = skew
	a.mu.Unlock()
	if now.Before(renewPoint(notBefore, notAfter, renewEarliest)) {
		return nil
	}
	return &skewError{notAfter: notAfter, expired: !now.Before(notAfter), skew: skew}
}

// explainClock adds the likely cause to a handshake that failed because the
// keyserver's certificate is outside its validity by this node's clock: a
// clock that far off gets no certificate to estimate the skew from. The
// handshake checks by Options.HandshakeNow, normally the agent's clock.
func (a *Agent) explainClock(err error) error {
	var invalid x509.CertificateInvalidError
	if !errors.As(err, &invalid) || invalid.Reason != x509.Expired || invalid.Cert == nil {
		return err
	}
	now, cert := a.opts.HandshakeNow(), invalid.Cert
	var skew time.Duration
	var how string
	switch {
	case now.After(cert.NotAfter):
		skew, how = now.Sub(cert.NotAfter), fmt.Sprintf("expired at %s", cert.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(cert.NotBefore):
		skew, how = now.Sub(cert.NotBefore), fmt.Sprintf("is not valid until %s", cert.NotBefore.UTC().Format(time.RFC3339))
	default:
		return err
	}
	a.mu.Lock()
	a.skew = skew
	a.mu.Unlock()
	return fmt.Errorf("%w: the keyserver's certificate %q %s by this node's clock; unless the keyserver failed to renew it, %s",
		err, cert.Subject.CommonName, how, clockOff(skew, "at least"))
}

// clockSkew is the last estimate of how far this node's clock is ahead of
// the keyserver's (negative: behind).
func (a *Agent) clockSkew() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.skew
}

// roughly renders a skew for people: days, hours, or seconds.
func roughly(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d >= 2*day:
		return fmt.Sprintf("%dd", (d+day/2)/day)
	case d >= 2*time.Hour:
		return fmt.Sprintf("%dh", (d+time.Hour/2)/time.Hour)
	default:
		return d.Round(time.Second).String()
	}
}
