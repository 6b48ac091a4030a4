package services_test

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/launch"
	"homeworld.dev/homeworld/internal/services"
)

// upstreamNotifies records which programs behind kube-launch components
// tell systemd they are ready, read from their pinned sources (etcdmain,
// the kubelet's app/server.go) and Debian's containerd; Homeworld's own
// programs are checked from their imports below instead.
var upstreamNotifies = map[string]bool{
	"etcd": true, "containerd": true, "kubelet": true,
	"apiserver": false, "controller-manager": false, "scheduler": false, "proxy": false,
	"node-exporter": false, "prometheus": false, "sshd": true, "flannel": true,
	"registry": false, "kube-state-metrics": false, // neither has sd_notify in its pinned source
}

// homeworldPrograms are launch components that exec one of our binaries.
var homeworldPrograms = map[string]string{
	"etcd-exporter": "etcd-metrics-exporter",
	"pull-monitor":  "pull-monitor",
	"setup-queue":   "setup-queue",
}

// TestEveryServiceHasALaunchAndBack: every launch component runs a service
// of the map and every launched service names a component.
func TestEveryServiceHasALaunchAndBack(t *testing.T) {
	var launched []string
	for _, s := range services.Map {
		if s.Launch == "" {
			continue
		}
		launched = append(launched, s.Launch)
		if !slices.Contains(launch.Names(), s.Launch) {
			t.Errorf("service %s names launch component %q, which kube-launch does not have", s.Name, s.Launch)
		}
	}
	for _, name := range launch.Names() {
		if !slices.Contains(launched, name) {
			t.Errorf("kube-launch component %s runs no service of the map", name)
		}
	}
}

// TestUnitTypeMatchesNotify: Type=notify exactly where the program sends
// READY=1. A notify unit whose program never notifies hangs in
// "activating"; that has happened here before.
func TestUnitTypeMatchesNotify(t *testing.T) {
	for _, s := range services.Map {
		var notifies bool
		var why string
		switch program, ours := homeworldPrograms[s.Launch]; {
		case s.Launch == "" || ours:
			if s.Launch == "" {
				program = filepath.Base(s.Argv(services.Host{BinDir: "/bin"})[0])
			}
			deps, err := exec.Command("go", "list", "-deps", "homeworld.dev/homeworld/cmd/"+program).Output()
			if err != nil {
				t.Fatalf("go list -deps cmd/%s: %v", program, err)
			}
			notifies = strings.Contains(string(deps), "homeworld.dev/homeworld/internal/sdnotify\n")
			why = "cmd/" + program + " imports internal/sdnotify"
		default:
			known, ok := upstreamNotifies[s.Launch]
			if !ok {
				t.Errorf("service %s: record whether %s notifies systemd in upstreamNotifies", s.Name, s.Launch)
				continue
			}
			notifies, why = known, s.Launch+" notifies systemd"
		}
		if s.Notify != notifies {
			t.Errorf("service %s: Notify = %v, but %q is %v", s.Name, s.Notify, why, notifies)
		}
		if want := map[bool]string{true: "notify", false: "exec"}[s.Notify]; s.UnitType() != want {
			t.Errorf("service %s: unit type %s, want %s", s.Name, s.UnitType(), want)
		}
	}
}
