// Package installer writes what a node's preseeded Debian installer carries:
// the debconf preseed that answers every question of an unattended install,
// the scripts the installer runs (the early-command marker, the disk choice,
// the late command, and install.sh with its token prompt, which run inside
// the installed system), node.env with what they need to know of the node,
// and the public files (cluster CA, keyserver name, ssh-user CA and sshd
// drop-in, apt branch keyring and sources entry) install.sh puts at the
// paths `spire setup` uses. It holds no secret: the ISO it feeds is handed
// around unencrypted. `spire iso gen` imports it.
package installer
