// Package remote drives a Debian host over SSH as root: it runs commands
// and writes and reads files there, and trusts a host only by a key that
// known_hosts lists, a certificate from an authority it lists, or a key
// the operator vouched for. Every error names the host and its address.
// spire and the packages that set hosts up (internal/hostsetup) import it.
//
// A session:
//
//	signers, err := remote.LoadSigners(access.SSHKeyPath(workspace))
//	c, err := remote.Dial(ctx, remote.Host{Name: "supervisor.example.org", Addr: "10.213.0.2:22"},
//		remote.Config{Signers: signers, HostKeys: remote.HostKeys{KnownHosts: knownHostsPath}})
//	defer c.Close()
//	changed, err := c.WriteFile(ctx, "/etc/homeworld/config/keyserver.yaml", data, 0o644)
//	out, err := c.Run(ctx, "systemctl restart keyserver.service", nil)
//
// Errors are *ConnError (errors.Is ErrUnreachable, ErrHandshake,
// ErrAuthRefused, ErrConnLost), *HostKeyError (ErrHostKeyUnknown,
// ErrHostKeyChanged, ErrHostKeyRevoked, ErrHostCertRefused) and *ExitError.
package remote
