package hostsetup

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"homeworld.dev/homeworld/internal/config"
)

// MinFreeBytes is the room install-packages wants on a host's root
// filesystem before it changes anything: Homeworld's packages take about
// 1 GiB unpacked, and apt keeps the archives while it installs. A
// variable so a test can ask for more than its machine has.
var MinFreeBytes int64 = 2 << 30

// KindPackage is the package that makes a machine a node of kind k
// (internal/debpkg.KindPackage builds it).
func KindPackage(k config.Kind) string { return "homeworld-" + string(k) }

// Preflight checks a host before anything is installed on it: that it is
// Debian with apt, and that it has room. It changes nothing.
func Preflight(ctx context.Context, h Host) error {
	out, err := h.Run(ctx, `command -v apt-get >/dev/null || { echo "apt-get is missing: Homeworld installs on Debian 12" >&2; exit 1; }; df --output=avail -B1 / | tail -n 1`, nil)
	if err != nil {
		return err
	}
	free, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return fmt.Errorf("reading free space: %q", out)
	}
	if free < MinFreeBytes {
		return fmt.Errorf("only %d MiB free on / (Homeworld's packages need %d MiB); free some space and run again", free>>20, MinFreeBytes>>20)
	}
	return nil
}

// Installed is what InstallPackages did on one host.
type Installed struct {
	Changed bool   // anything installed or upgraded
	Summary string // apt's "N upgraded, M newly installed, ..." line
}

// InstallPackages makes h a node of kind k from the apt branch: it points
// apt at the branch (aptFiles: its keyring and sources entry, as
// homeworld-apt-setup ships them), refreshes the lists, installs the kind's
// package and upgrades what the branch has newer (the original's
// install-packages). When nothing would change it installs nothing, so a
// re-run restarts nothing.
func InstallPackages(ctx context.Context, h Host, k config.Kind, aptFiles []File) (Installed, error) {
	if _, err := Put(ctx, h, aptFiles); err != nil {
		return Installed{}, err
	}
	// Another apt run (an earlier spire cut off, unattended upgrades) holds
	// the lock for a while: wait for it rather than fail.
	const env = "DEBIAN_FRONTEND=noninteractive"
	const lock = " -o DPkg::Lock::Timeout=300"
	if _, err := h.Run(ctx, "apt-get update -q -o APT::Update::Error-Mode=any"+lock, nil); err != nil {
		return Installed{}, fmt.Errorf("apt-get update (is the branch served at the address in %s?): %w", aptFiles[len(aptFiles)-1].Path, err)
	}
	// A simulation says what an install would do; "0 upgraded, 0 newly
	// installed" means the host is already current.
	install := command("apt-get", "install", "-o", "DPkg::Lock::Timeout=300", "-y", "-q", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confold", KindPackage(k))
	upgrade := "apt-get dist-upgrade -y -q -o Dpkg::Options::=--force-confold" + lock
	sim, err := h.Run(ctx, env+" "+install+" -s && "+env+" "+upgrade+" -s", nil)
	if err != nil {
		return Installed{}, err
	}
	var summaries []string
	changed := false
	for _, line := range strings.Split(string(sim), "\n") {
		if strings.Contains(line, " upgraded, ") && strings.Contains(line, " newly installed") {
			if !strings.HasPrefix(line, "0 upgraded, 0 newly installed, 0 to remove") {
				changed = true
				if !slices.Contains(summaries, strings.TrimSpace(line)) {
					summaries = append(summaries, strings.TrimSpace(line))
				}
			}
		}
	}
	res := Installed{Changed: changed, Summary: strings.Join(summaries, "; ")}
	if !changed {
		return res, nil
	}
	if _, err := h.Run(ctx, env+" "+install+" && "+env+" "+upgrade, nil); err != nil {
		return res, err
	}
	return res, nil
}
