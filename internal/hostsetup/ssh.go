package hostsetup

import (
	"context"
	"fmt"
	"strings"
)

// sshApplied records which SSH configuration the running sshd was told to
// read, so a re-run reloads nothing when nothing changed.
const sshApplied = "/var/lib/homeworld/sshd-applied"

// UseHostCertificate makes the host's sshd present the host certificate the
// keyclient obtained (and trust admin certificates from the ssh-user
// authority), once the keyclient has written them: Homeworld's drop-in is
// checked with sshd -t and ssh reloaded. Existing sessions survive.
func UseHostCertificate(ctx context.Context, h Host) (changed bool, err error) {
	files := []string{node.SSHDConfig(), node.SSHHostCert(), node.SSHUserCA()}
	sum, err := h.Run(ctx, "cat "+command(files...)+" | sha256sum", nil)
	if err != nil {
		return false, fmt.Errorf("the keyclient has not written the SSH host certificate yet: %w", err)
	}
	old, _ := h.ReadFile(ctx, sshApplied)
	if strings.TrimSpace(string(old)) == strings.TrimSpace(string(sum)) {
		return false, nil
	}
	if _, err := h.Run(ctx, "sshd -t && systemctl reload-or-restart ssh.service", nil); err != nil {
		return false, fmt.Errorf("sshd refuses Homeworld's configuration: %w", err)
	}
	_, err = h.WriteFile(ctx, sshApplied, sum, 0o644)
	return true, err
}

// CertificateLoginsOnly moves root's authorized_keys aside (to
// /root/original_authorized_keys, as the original did), so that from now on
// only certificates from the ssh-user authority log in.
func CertificateLoginsOnly(ctx context.Context, h Host) (moved bool, err error) {
	out, err := h.Run(ctx, `if [ -e /root/.ssh/authorized_keys ]; then mv /root/.ssh/authorized_keys /root/original_authorized_keys && echo moved; fi`, nil)
	return strings.TrimSpace(string(out)) == "moved", err
}
