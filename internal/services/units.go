package services

import (
	"fmt"
	"strings"
)

// Unit renders the systemd unit of s for a host: restart policy, ordering
// on its dependencies, and a sandbox that denies everything the service does
// not need.
func Unit(s Service, h Host) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Rendered by Homeworld from the service map; do not edit.")
	w("[Unit]")
	w("Description=%s", s.Description)
	w("Wants=network-online.target")
	after := []string{"network-online.target"}
	for _, d := range Deps(s, h.Node.Kind) {
		u := MustGet(d).Unit()
		after = append(after, u)
		w("Requires=%s", u)
	}
	w("After=%s", strings.Join(after, " "))
	w("StartLimitIntervalSec=0")
	w("")
	w("[Service]")
	if s.Notify {
		// kube-launch execs the component, so the notifying process is
		// the unit's main process.
		w("Type=notify")
		w("NotifyAccess=main")
	} else {
		w("Type=exec")
	}
	w("ExecStart=%s", quoteArgs(s.Argv(h)))
	w("Restart=always")
	w("RestartSec=%s", s.RestartSec)
	w("TimeoutStartSec=1h")
	w("TimeoutStopSec=30s")
	if s.Sandbox.Unconfined {
		w("Delegate=yes") // containerd and kubelet manage cgroups below their own
		w("KillMode=process")
		w("")
		w("[Install]")
		w("WantedBy=multi-user.target")
		return b.String()
	}
	// Sandbox: read-only system, private /tmp and devices, no privilege
	// gain, only the network families the services use.
	w("NoNewPrivileges=yes")
	w("ProtectSystem=strict")
	// Writable folders under /var/lib, /var/log and /etc/homeworld become
	// systemd-managed directories: created on first start (a missing
	// ReadWritePaths entry would stop the unit from starting at all).
	var other []string
	for _, p := range s.Sandbox.ReadWritePaths {
		switch {
		case strings.HasPrefix(p, "/var/lib/"):
			w("StateDirectory=%s", strings.TrimPrefix(p, "/var/lib/"))
		case strings.HasPrefix(p, "/var/log/"):
			w("LogsDirectory=%s", strings.TrimPrefix(p, "/var/log/"))
		case p == "/etc/homeworld" || strings.HasPrefix(p, "/etc/homeworld/"):
			w("ConfigurationDirectory=%s", strings.TrimPrefix(p, "/etc/"))
		default:
			other = append(other, p)
		}
	}
	if len(other) > 0 {
		w("ReadWritePaths=%s", strings.Join(other, " "))
	}
	w("ProtectHome=yes")
	w("PrivateTmp=yes")
	w("PrivateDevices=yes")
	w("ProtectKernelTunables=yes")
	w("ProtectKernelModules=yes")
	w("ProtectKernelLogs=yes")
	w("ProtectControlGroups=yes")
	w("ProtectClock=yes")
	w("ProtectHostname=yes")
	w("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK")
	w("RestrictNamespaces=yes")
	w("RestrictRealtime=yes")
	w("RestrictSUIDSGID=yes")
	w("LockPersonality=yes")
	w("MemoryDenyWriteExecute=yes")
	w("SystemCallArchitectures=native")
	w("CapabilityBoundingSet=%s", strings.Join(s.Sandbox.Capabilities, " "))
	w("")
	w("[Install]")
	w("WantedBy=multi-user.target")
	return b.String()
}

// quoteArgs renders argv for ExecStart, quoting what needs it.
func quoteArgs(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\"'\\;$%") {
			a = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%", "$", "$$").Replace(a) + `"`
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
