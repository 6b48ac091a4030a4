package hostsetup

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/services"
)

// Units are the systemd units the service map runs on node n of cluster c,
// in start order, and the Debian units they displace (Debian's packages enable
// their daemons on install; two units for one program would fight over its
// port at every boot).
func Units(c *config.Config, n config.Node) (ours, displaced []string) {
	for _, s := range services.On(c, n) {
		ours = append(ours, s.Unit())
		if s.Displaces != "" {
			displaced = append(displaced, s.Displaces)
		}
	}
	return ours, displaced
}

// Enable makes units start at boot and starts those that are not running,
// after disabling and stopping the units they displace. With restart, the
// named ones are restarted too (something they read changed). It does not
// wait: a unit that needs the keyclient's credentials starts once they are
// there (WaitActive waits).
func Enable(ctx context.Context, h Host, units, displaced, restart []string) error {
	if len(displaced) > 0 {
		// disable --now on a unit that is already disabled and stopped is
		// a no-op; a unit that is not installed is not an error.
		cmd := "for u in " + command(displaced...) + `; do if systemctl cat "$u" >/dev/null 2>&1; then systemctl disable --now --quiet "$u"; fi; done`
		if _, err := h.Run(ctx, cmd, nil); err != nil {
			return fmt.Errorf("stopping the Debian units Homeworld's replace: %w", err)
		}
	}
	if _, err := h.Run(ctx, command(append([]string{"systemctl", "enable", "--quiet"}, units...)...), nil); err != nil {
		return fmt.Errorf("enabling units: %w", err)
	}
	if len(restart) > 0 {
		if _, err := h.Run(ctx, command(append([]string{"systemctl", "restart", "--no-block"}, restart...)...), nil); err != nil {
			return fmt.Errorf("restarting units: %w", err)
		}
	}
	// start on an active unit does nothing, so this restarts nothing.
	if _, err := h.Run(ctx, command(append([]string{"systemctl", "start", "--no-block"}, units...)...), nil); err != nil {
		return fmt.Errorf("starting units: %w", err)
	}
	return nil
}

// UnitState is one unit's state as systemctl reports it.
type UnitState struct {
	Unit   string
	Active string // active, activating, failed, inactive, ...
	PID    string // main PID, "0" when none
}

// States reads the states of units on h.
func States(ctx context.Context, h Host, units []string) ([]UnitState, error) {
	out, err := h.Run(ctx, command(append([]string{"systemctl", "show", "--property=Id,ActiveState,MainPID"}, units...)...), nil)
	if err != nil {
		return nil, err
	}
	var states []UnitState
	for _, block := range strings.Split(strings.TrimSpace(string(out)), "\n\n") {
		var s UnitState
		for _, line := range strings.Split(block, "\n") {
			k, v, _ := strings.Cut(line, "=")
			switch k {
			case "Id":
				s.Unit = v
			case "ActiveState":
				s.Active = v
			case "MainPID":
				s.PID = v
			}
		}
		states = append(states, s)
	}
	return states, nil
}

// ActiveTimeout is how long WaitActive waits for units: long enough for a
// keyclient's first credentials and a kubelet's start, short enough that a
// unit stuck in a restart loop is named rather than waited on for ever.
const ActiveTimeout = 3 * time.Minute

// WaitActive polls until every unit is active, or ctx ends: then it names
// the units that are not, with the end of their journal.
func WaitActive(ctx context.Context, h Host, units []string, progress func(string)) error {
	ctx, cancel := context.WithTimeout(ctx, ActiveTimeout)
	defer cancel()
	last := ""
	for {
		states, err := States(ctx, h, units)
		var waiting []string
		if err == nil {
			for _, s := range states {
				if s.Active != "active" {
					waiting = append(waiting, s.Unit+" "+s.Active)
				}
			}
			if len(waiting) == 0 {
				return nil
			}
			if msg := strings.Join(waiting, ", "); msg != last && progress != nil {
				progress("waiting for " + msg)
				last = msg
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return err
			}
			return fmt.Errorf("not active: %s%s", strings.Join(waiting, ", "), journalTail(h, firstUnits(waiting)))
		case <-time.After(time.Second):
		}
	}
}

func firstUnits(waiting []string) []string {
	var units []string
	for _, w := range waiting {
		u, _, _ := strings.Cut(w, " ")
		units = append(units, u)
	}
	return units
}

// journalTail is the last lines the units logged, for an error message.
func journalTail(h Host, units []string) string {
	if len(units) == 0 {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	args := []string{"journalctl", "--no-pager", "-n", "15", "-o", "short"}
	for _, u := range slices.Compact(units) {
		args = append(args, "-u", u)
	}
	out, err := h.Run(ctx, command(args...), nil)
	if err != nil || len(out) == 0 {
		return ""
	}
	return "\nlast journal lines:\n" + strings.TrimRight(string(out), "\n")
}

// RestartEnabled restarts, after an upgrade, the units of node n that the
// host runs (it was set up), in the map's order, and waits until they are
// active again. A host not set up yet has nothing to restart.
func RestartEnabled(ctx context.Context, h Host, c *config.Config, n config.Node) (int, error) {
	var units []string
	for _, s := range services.On(c, n) {
		if !s.OSProvided() { // the operating system's units are not Homeworld's to upgrade
			units = append(units, s.Unit())
		}
	}
	states, err := States(ctx, h, units)
	if err != nil {
		return 0, err
	}
	var running []string
	for _, s := range states {
		if s.Active == "active" || s.Active == "activating" {
			running = append(running, s.Unit)
		}
	}
	if len(running) == 0 {
		return 0, nil
	}
	if _, err := h.Run(ctx, "systemctl daemon-reload && "+command(append([]string{"systemctl", "restart", "--no-block"}, running...)...), nil); err != nil {
		return 0, err
	}
	return len(running), WaitActive(ctx, h, running, nil)
}
