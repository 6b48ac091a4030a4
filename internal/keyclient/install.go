package keyclient

import "homeworld.dev/homeworld/internal/layout"

// InstallTrust writes what an installer gives a node before its first
// boot: the keyserver's name and the cluster CA the keyclient trusts it by.
func InstallTrust(n layout.Node, keyserverName string, clusterCAPEM []byte) error {
	if err := writeFile(n.KeyserverDomain(), []byte(keyserverName), 0o644); err != nil {
		return err
	}
	return writeFile(n.KeyserverCA(), clusterCAPEM, 0o644)
}

// InstallToken puts a one-time admission token where the keyclient looks
// for it.
func InstallToken(n layout.Node, token string) error {
	return writeFile(n.BootstrapToken(), []byte(token+"\n"), 0o600)
}
