package services

import (
	"fmt"
	"slices"
	"strings"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/layout"
)

// Unit renders the systemd unit of s for a host: restart policy, ordering
// on its dependencies, and a sandbox that denies everything the service does
// not need.
func Unit(s Service, h Host) string {
	return render(s, s.Argv(h), Deps(s, h.Node.Kind), nil, "")
}

// NodeIPVar is the key of the node's own address in local.conf, which the
// keyclient fetches from the keyserver.
const NodeIPVar = "HOST_IP"

// PackageUnit renders the unit of s as a Debian package ships it: one file
// for every node of every kind that runs s, with Homeworld's binaries in
// binDir. Two things differ from Unit. The node's address is not known when
// the package is built, so systemd reads it from local.conf when the service
// starts (a service that waits for the keyclient can count on the file; the
// keyclient itself, which fetches it, starts without it the first time and
// then listens on every address). And a dependency that runs on some of s's
// kinds only (the keyserver, for the keyclient) orders the two without
// pulling it in: it must not start where its kind does not run it.
func PackageUnit(s Service, binDir string) string {
	ref := "${" + NodeIPVar + "}"
	argv := s.Argv(Host{BinDir: binDir, Node: config.Node{IP: ref}})
	var requires, orderOnly []string
	for _, d := range s.After {
		on := 0
		for _, k := range s.Kinds {
			if slices.Contains(Deps(s, k), d) {
				on++
			}
		}
		switch on {
		case 0:
		case len(s.Kinds):
			requires = append(requires, d)
		default:
			orderOnly = append(orderOnly, d)
		}
	}
	env := ""
	if slices.ContainsFunc(argv, func(a string) bool { return strings.Contains(a, ref) }) {
		env = layout.Node{Root: "/"}.LocalConf()
		if !slices.Contains(s.After, "keyclient") {
			env = "-" + env // the keyclient fetches it; without it ${HOST_IP} is empty
		}
	}
	return render(s, argv, requires, orderOnly, env)
}

// render writes the unit: requires are started with s and ordered before
// it, orderOnly only ordered; envFile (if any) is read for ExecStart.
func render(s Service, argv, requires, orderOnly []string, envFile string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Rendered by Homeworld from the service map; do not edit.")
	w("[Unit]")
	w("Description=%s", s.Description)
	w("Wants=network-online.target")
	after := []string{"network-online.target"}
	for _, d := range requires {
		u := MustGet(d).Unit()
		after = append(after, u)
		w("Requires=%s", u)
	}
	for _, d := range orderOnly {
		after = append(after, MustGet(d).Unit())
	}
	if s.Displaces != "" {
		// Conflicts alone does not order the stop before the start.
		w("Conflicts=%s", s.Displaces)
		after = append(after, s.Displaces)
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
	if envFile != "" {
		w("EnvironmentFile=%s", envFile)
	}
	w("ExecStart=%s", quoteArgs(argv))
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

// quoteArgs renders argv for ExecStart, quoting what needs it. The
// reference to the node's address (PackageUnit) is left for systemd to
// expand.
func quoteArgs(argv []string) string {
	ref := "${" + NodeIPVar + "}"
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%", "$", "$$")
	out := make([]string, len(argv))
	for i, a := range argv {
		parts := strings.Split(a, ref)
		quote := a == ""
		for j, p := range parts {
			quote = quote || strings.ContainsAny(p, " \t\"'\\;$%")
			parts[j] = esc.Replace(p)
		}
		a = strings.Join(parts, ref)
		if quote {
			a = `"` + a + `"`
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
