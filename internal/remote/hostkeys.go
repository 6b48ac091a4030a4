package remote

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// HostKeys is how a host's key is checked. A host is trusted when its key
// is listed for it in KnownHosts, when it offers a certificate from an
// authority KnownHosts trusts for it (an "@cert-authority PATTERNS KEY"
// line) that names it, or when the operator vouched for its key, through
// Fingerprints or Confirm; a vouched-for key is then added to KnownHosts.
// Anything else is refused with a *HostKeyError and nothing changes.
type HostKeys struct {
	// KnownHosts is a known_hosts file in OpenSSH's format (spire keeps one
	// in its workspace). Missing: it lists nothing, and is made when a key
	// is vouched for. Empty: no file; vouched-for keys are trusted for the
	// connection only.
	KnownHosts string
	// Fingerprints the operator vouched for, "SHA256:…" as ssh-keygen -l
	// prints them, by host name or address (with or without port).
	Fingerprints map[string][]string
	// Confirm, if set, is asked whether to trust an unknown host's key
	// (spire asks on a terminal). The connect timeout stops meanwhile.
	Confirm func(host Host, fingerprint string) (bool, error)
	// HowToVouch ends the refusal of an unknown host: how the operator
	// vouches for a key (spire names its flag). Empty: a generic hint.
	HowToVouch string
}

// Fingerprint is k's SHA-256 fingerprint as ssh-keygen -l prints it.
func Fingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

// verifier checks one host's key during one handshake.
type verifier struct {
	host  Host
	keys  HostKeys
	known *knownHosts
	// pause stops the connect timeout while the operator is asked, and
	// returns what starts it again.
	pause func() (resume func())
}

func newVerifier(h Host, keys HostKeys) (*verifier, error) {
	known, err := loadKnownHosts(keys.KnownHosts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", h, err)
	}
	return &verifier{host: h, keys: keys, known: known, pause: func() func() { return func() {} }}, nil
}

// algorithms orders the host key algorithms to ask for those the host's
// known keys use first, as OpenSSH does: a host with several keys must
// show the one known_hosts lists, not another that looks like a change.
// nil (the defaults) when nothing is known about the host.
func (v *verifier) algorithms() ([]string, error) {
	plain, authorities, err := v.known.entries(v.host.keyName())
	if err != nil || len(plain)+len(authorities) == 0 {
		return nil, err
	}
	known := func(algo string) bool {
		if strings.HasSuffix(algo, certSuffix) && len(authorities) > 0 {
			return true
		}
		return slices.ContainsFunc(plain, func(k ssh.PublicKey) bool { return keyFormat(algo) == k.Type() })
	}
	all := ssh.SupportedAlgorithms().HostKeys
	return append(slices.DeleteFunc(slices.Clone(all), func(a string) bool { return !known(a) }),
		slices.DeleteFunc(all, known)...), nil
}

const certSuffix = "-cert-v01@openssh.com"

// keyFormat is the type of key an algorithm signs with.
func keyFormat(algo string) string {
	algo = strings.TrimSuffix(algo, certSuffix)
	if algo == ssh.KeyAlgoRSASHA256 || algo == ssh.KeyAlgoRSASHA512 {
		return ssh.KeyAlgoRSA
	}
	return algo
}

// check is the handshake's HostKeyCallback. name is the host's keyName.
func (v *verifier) check(name string, remote net.Addr, key ssh.PublicKey) error {
	err := v.known.check(name, remote, key)
	if err == nil {
		return nil
	}
	offered := key
	cert, isCert := key.(*ssh.Certificate)
	if isCert {
		offered = cert.Key
	}
	if v.known.revoked(offered) || isCert && v.known.revoked(cert.SignatureKey) {
		return &HostKeyError{Host: v.host, Kind: ErrHostKeyRevoked, Offered: Fingerprint(offered),
			Detail: fmt.Sprintf("%s marks the key %s (or its authority) @revoked", v.keys.KnownHosts, Fingerprint(offered)),
			Hint:   "refusing to connect"}
	}
	plain, authorities, lerr := v.known.entries(name)
	if lerr != nil {
		return fmt.Errorf("%s: %w", v.host, lerr)
	}
	if isCert && containsKey(authorities, cert.SignatureKey) {
		return &HostKeyError{Host: v.host, Kind: ErrHostCertRefused, Offered: Fingerprint(offered),
			Detail: fmt.Sprintf("certificate %q for %s from authority %s, which %s trusts for it: %v",
				cert.KeyId, strings.Join(cert.ValidPrincipals, ","), Fingerprint(cert.SignatureKey), v.keys.KnownHosts,
				strings.TrimPrefix(err.Error(), "ssh: ")),
			Hint: "connect by a name the certificate holds (setup.yaml's host name must match it), or renew the host's certificate; refusing to connect"}
	}
	if isCert {
		// An authority known_hosts does not trust for this host vouches
		// for nothing; judge the key it certifies, as OpenSSH does.
		if v.known.check(name, remote, offered) == nil {
			return nil
		}
	}
	if len(plain) > 0 {
		known := make([]string, len(plain))
		for i, k := range plain {
			known[i] = Fingerprint(k)
		}
		return &HostKeyError{Host: v.host, Kind: ErrHostKeyChanged, Offered: Fingerprint(offered), Known: known,
			Detail: fmt.Sprintf("known %s, offered %s", strings.Join(known, ", "), Fingerprint(offered)),
			Hint: fmt.Sprintf("if the host was reinstalled, remove its line from %s (or run spire access pull-supervisor-key); "+
				"otherwise someone may be in the middle of the connection; refusing to connect", v.keys.KnownHosts)}
	}
	return v.unknown(authorities, cert, offered)
}

// unknown trusts a key nothing lists if the operator vouches for it, and
// records it.
func (v *verifier) unknown(authorities []ssh.PublicKey, cert *ssh.Certificate, key ssh.PublicKey) error {
	fp := Fingerprint(key)
	trusted := v.vouched(fp)
	if !trusted && v.keys.Confirm != nil {
		resume := v.pause()
		ok, err := v.keys.Confirm(v.host, fp)
		resume()
		if err != nil {
			return fmt.Errorf("%s: asking whether to trust host key %s: %w", v.host, fp, err)
		}
		if !ok {
			return &HostKeyError{Host: v.host, Kind: ErrHostKeyUnknown, Offered: fp,
				Detail: fmt.Sprintf("offered %s (%s), which the operator did not trust", fp, key.Type()),
				Hint:   "refusing to connect"}
		}
		trusted = true
	}
	if trusted {
		if err := v.known.record(v.host, key); err != nil {
			return fmt.Errorf("%s: trusted host key %s, but cannot record it in %s: %w", v.host, fp, v.keys.KnownHosts, err)
		}
		return nil
	}
	detail := fmt.Sprintf("offered %s (%s), which no line of %s lists and nobody vouched for", fp, key.Type(), v.knownHostsName())
	switch {
	case cert != nil:
		detail += fmt.Sprintf(" (in a certificate from authority %s, which is not trusted for the host)", Fingerprint(cert.SignatureKey))
	case len(authorities) > 0:
		detail += "; an authority is trusted for the host, but it offered no certificate"
	}
	hint := v.keys.HowToVouch
	if hint == "" {
		hint = "vouch for the fingerprint or add the host's key to known_hosts"
	}
	return &HostKeyError{Host: v.host, Kind: ErrHostKeyUnknown, Offered: fp, Detail: detail,
		Hint: "check the fingerprint on the host's console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and, if it matches, " + hint}
}

// vouched says whether the operator vouched for fp for this host, under
// its name, its address, or its address without the port.
func (v *verifier) vouched(fp string) bool {
	for _, id := range []string{v.host.Name, v.host.Addr, v.host.addr(), v.host.addrHost()} {
		if id != "" && slices.Contains(v.keys.Fingerprints[id], fp) {
			return true
		}
	}
	return false
}

func (v *verifier) knownHostsName() string {
	if v.keys.KnownHosts == "" {
		return "known_hosts (none given)"
	}
	return v.keys.KnownHosts
}
