// Package nspawn boots test hosts that are real systemd machines: each is
// a systemd-nspawn container of a Debian 12 root (EnsureImage) with
// systemd as PID 1 and a real sshd, inside a network namespace its caller
// made, so that Homeworld's production path (apt, units, SSH) runs on it
// unchanged. Hosts outlive the process that booted them: their state is in
// their folder, where Stop and Status find it. internal/virt and spire
// import it.
package nspawn

import "path/filepath"

// Host is one test host.
type Host struct {
	Name string // short host name, also nspawn's machine name
	FQDN string // used in /etc/hosts when Hosts is empty
	// Netns is the path of the network namespace the host lives in (e.g.
	// /run/netns/X), made by the caller with the host's address configured.
	Netns string
	// Dir is the host's folder: its root filesystem (Dir/root, unpacked
	// from the image at the first boot and kept across Stop and Boot), its
	// console log and its state.
	Dir            string
	AuthorizedKeys []byte // root's ~/.ssh/authorized_keys
	Hosts          []byte // /etc/hosts
}

// Root is where the host's root filesystem is.
func (h Host) Root() string { return filepath.Join(h.Dir, "root") }

// ConsoleLog is the file that gets everything the host prints on its
// console (systemd's boot messages) and systemd-nspawn's own messages.
func (h Host) ConsoleLog() string { return filepath.Join(h.Dir, "console.log") }

func (h Host) statePath() string { return filepath.Join(h.Dir, "state.json") }
func (h Host) lockPath() string  { return filepath.Join(h.Dir, "lock") }

// HostKey is one of the host's SSH host keys.
type HostKey struct {
	Type        string // e.g. ssh-ed25519
	Fingerprint string // SHA256:..., as ssh-keygen -l prints it
	Public      string // authorized_keys form ("ssh-ed25519 AAAA..."), for known_hosts
}

// Running is a booted host.
type Running struct {
	PID    int // systemd-nspawn's process
	Leader int // the host's PID 1 (systemd), as the machine numbers it
	// State is what systemd reported once booted: running, or degraded
	// when units failed (Failed lists them).
	State    string
	Failed   []string
	HostKeys []HostKey
}
