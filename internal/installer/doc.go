// Package installer writes what a node's preseeded Debian installer carries:
// the debconf preseed that answers every question of an unattended install,
// and the public cluster material (CA, SSH user CA, hosts lines, VLAN) the
// late command puts on the installed system. It holds no secret: the ISO it
// feeds is handed around unencrypted. `spire iso gen` imports it.
package installer
