package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// LoadSigners reads the unencrypted private key at keyPath and, when
// keyPath+"-cert.pub" exists (spire access ssh writes it), its
// certificate. The certificate is offered first: a host that trusts only
// certificates (after spire setup supervisor-ssh) takes it, and one that
// still lists the key in authorized_keys takes the key.
func LoadSigners(keyPath string) ([]ssh.Signer, error) {
	data, err := os.ReadFile(keyPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no SSH key at %s; run spire access ssh to make one", keyPath)
	} else if err != nil {
		return nil, err
	}
	key, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	certPath := keyPath + "-cert.pub"
	data, err = os.ReadFile(certPath)
	if errors.Is(err, os.ErrNotExist) {
		return []ssh.Signer{key}, nil
	} else if err != nil {
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	cert, ok := pub.(*ssh.Certificate)
	if !ok {
		return nil, fmt.Errorf("%s holds a key, not a certificate", certPath)
	}
	certSigner, err := ssh.NewCertSigner(cert, key)
	if err != nil {
		return nil, fmt.Errorf("%s does not certify %s: %w; run spire access ssh again", certPath, keyPath, err)
	}
	return []ssh.Signer{certSigner, key}, nil
}

// AgentSigners are the keys and certificates of the ssh-agent listening
// on sock (usually $SSH_AUTH_SOCK). They sign through the agent, so call
// done only once the connections made with them are closed.
func AgentSigners(sock string) (signers []ssh.Signer, done func() error, err error) {
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach the ssh-agent at %s: %w", sock, err)
	}
	signers, err = agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("ssh-agent at %s: %w", sock, err)
	}
	if len(signers) == 0 {
		conn.Close()
		return nil, nil, fmt.Errorf("the ssh-agent at %s holds no keys; run spire access ssh", sock)
	}
	return signers, conn.Close, nil
}

// describeSigners says which keys were offered, so an operator can tell a
// stale certificate from a wrong key.
func describeSigners(signers []ssh.Signer) string {
	var out []string
	for _, s := range signers {
		out = append(out, describeKey(s.PublicKey()))
	}
	return strings.Join(out, "; ")
}

func describeKey(k ssh.PublicKey) string {
	cert, ok := k.(*ssh.Certificate)
	if !ok {
		return fmt.Sprintf("key %s (%s)", Fingerprint(k), k.Type())
	}
	date := func(t uint64) string { return time.Unix(int64(t), 0).UTC().Format(time.RFC3339) }
	validity := "valid until " + date(cert.ValidBefore)
	now := uint64(time.Now().Unix())
	switch {
	case now < cert.ValidAfter:
		validity = "NOT VALID before " + date(cert.ValidAfter)
	case cert.ValidBefore == ssh.CertTimeInfinity:
		validity = "valid forever"
	case now >= cert.ValidBefore:
		validity = "EXPIRED at " + date(cert.ValidBefore)
	}
	return fmt.Sprintf("certificate %q for %s (key %s, %s)", cert.KeyId, strings.Join(cert.ValidPrincipals, ","), Fingerprint(cert.Key), validity)
}
