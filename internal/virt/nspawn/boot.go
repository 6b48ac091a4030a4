package nspawn

import (
	"context"
	"fmt"
	"os"
	"time"
)

// BootTimeout bounds how long Boot waits for a host to boot. A host boots
// in a few seconds; several at once on a busy machine take longer.
const BootTimeout = 2 * time.Minute

// Boot boots host h from image (EnsureImage) and waits until its systemd
// has finished booting. The first boot unpacks the image into h.Root and
// makes the host's own SSH host keys and machine ID; every boot writes its
// name, hosts file and root's authorized keys. The host runs detached:
// it outlives the caller until Stop. Booting a running host returns it as
// it is. A host whose systemd reports degraded is booted (Running lists
// the failed units); one that does not finish booting is stopped again.
func Boot(ctx context.Context, h Host, image string) (*Running, error) {
	if h.Name == "" || h.Dir == "" || h.Netns == "" {
		return nil, fmt.Errorf("a host needs a name, a folder and a network namespace")
	}
	if _, err := os.Stat(h.Netns); err != nil {
		return nil, fmt.Errorf("network namespace of %s: %w", h.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, BootTimeout)
	defer cancel()
	if err := os.MkdirAll(h.Dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockHost(ctx, h)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := readState(h)
	if err != nil {
		return nil, err
	}
	if st != nil && st.alive() && st.Leader != 0 {
		return booted(ctx, h, st)
	}
	if st != nil {
		// Left by a host that died, or by a Boot that did not finish.
		if err := stop(ctx, h, st); err != nil {
			return nil, err
		}
	}
	if err := prepareRoot(ctx, h, image); err != nil {
		return nil, err
	}
	dirs, err := makeCgroups(h)
	if err != nil {
		return nil, err
	}
	cmd, err := launch(h, dirs)
	if err != nil {
		removeCgroups(dirs)
		return nil, err
	}
	st = &state{PID: cmd.Process.Pid, Cgroups: dirs}
	if s, err := readStat(st.PID); err == nil {
		st.Start = s.start
	}
	if err := st.save(h); err != nil {
		stop(ctx, h, st)
		return nil, err
	}
	r, err := bootLeader(ctx, h, st)
	if err != nil {
		// Stop with a context of its own: ctx may be what ran out.
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), StopTimeout)
		defer scancel()
		stop(sctx, h, st)
		return nil, fmt.Errorf("booting %s: %w\n%s", h.Name, err, consoleTail(h))
	}
	return r, nil
}

// bootLeader waits for the host's PID 1, records it, and waits for the
// boot to finish.
func bootLeader(ctx context.Context, h Host, st *state) (*Running, error) {
	leader, err := findLeader(ctx, st)
	if err != nil {
		return nil, err
	}
	st.Leader = leader
	if err := st.save(h); err != nil {
		return nil, err
	}
	return booted(ctx, h, st)
}

// booted waits until the running host has booted and describes it.
func booted(ctx context.Context, h Host, st *state) (*Running, error) {
	state, failed, err := waitBooted(ctx, st)
	if err != nil {
		return nil, err
	}
	keys, err := hostKeys(h)
	if err != nil {
		return nil, err
	}
	return &Running{PID: st.PID, Leader: st.Leader, State: state, Failed: failed, HostKeys: keys}, nil
}

// consoleTail is the end of the host's console log, which says why a
// boot failed.
func consoleTail(h Host) string {
	data, err := os.ReadFile(h.ConsoleLog())
	if err != nil {
		return ""
	}
	return fmt.Sprintf("end of %s:\n%s", h.ConsoleLog(), tail(data, 3000))
}

// tail is the last n bytes of a command's output or a log.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
