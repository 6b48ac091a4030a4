package nspawn

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"homeworld.dev/homeworld/internal/debimage"
)

// imageFile is a file the recipe adds to the image.
type imageFile struct {
	path string
	mode os.FileMode
	data string
}

// hostInit is the test hosts' PID 1, which makes their "hardware" like a
// real host's and then becomes systemd. systemd-nspawn mounts the cgroup
// v1 controller hierarchies read-only, where a real host has them
// writable: containerd, runc and the kubelet make cgroups there, and
// systemd applies units' resource limits there only if it finds them
// writable when it starts (hence before it, not in a unit). The host has
// a cgroup namespace of its own, so it sees and changes only its own
// subtree. A remount that fails ends the boot: Boot reports it.
const hostInit = `#!/bin/sh
set -e
mount -o remount,rw /sys/fs/cgroup
findmnt -rn -R -o TARGET,VFS-OPTIONS /sys/fs/cgroup | while read -r target opts; do
	case ",$opts," in
	*,ro,*) mount -o remount,bind,rw "$target" ;;
	esac
done
exec /lib/systemd/systemd "$@"
`

// hostInitPath is where the image has hostInit.
const hostInitPath = "/usr/local/sbin/testhost-init"

var imageFiles = []imageFile{
	{path: hostInitPath, mode: 0o755, data: hostInit},
}

// policyRC keeps package scripts from starting daemons in the chroot, on
// the machine: Prometheus ships a System V script that would start it.
const policyRC = "#!/bin/sh\nexit 101\n"

// makeImage turns the minimal root into a host's: installs Packages with
// apt from Debian's mirror, then removes what must be each host's own or
// must not be there at all.
func makeImage(ctx context.Context, out io.Writer, root string) error {
	resolv := filepath.Join(root, "etc/resolv.conf")
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return err
	}
	os.Remove(resolv)
	if err := os.WriteFile(resolv, data, 0o644); err != nil {
		return err
	}
	policy := filepath.Join(root, "usr/sbin/policy-rc.d")
	if err := os.WriteFile(policy, []byte(policyRC), 0o755); err != nil {
		return err
	}
	fmt.Fprintf(out, "nspawn image: installing %d Debian packages\n", len(Packages))
	steps := [][]string{
		{"apt-get", "update"},
		append([]string{"apt-get", "install", "-y", "--no-install-recommends"}, Packages...),
		{"apt-get", "clean"},
	}
	for _, argv := range steps {
		if out, err := debimage.Chroot(ctx, root, argv...); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(argv[:2], " "), err, tail(out, 3000))
		}
	}
	// Each host is its own machine: Boot gives it its host keys,
	// machine ID, name and hosts file.
	hostKeys, _ := filepath.Glob(filepath.Join(root, "etc/ssh/ssh_host_*"))
	// The hosts have no route to Debian: its sources and their indexes go,
	// and Homeworld adds its branch. apt itself stays.
	sources, _ := filepath.Glob(filepath.Join(root, "etc/apt/sources.list.d/*"))
	lists, _ := filepath.Glob(filepath.Join(root, "var/lib/apt/lists/*_*"))
	remove := append(append(hostKeys, sources...), lists...)
	for _, p := range []string{"usr/sbin/policy-rc.d", "etc/apt/sources.list", "etc/hostname", "var/lib/dbus/machine-id"} {
		remove = append(remove, filepath.Join(root, p))
	}
	for _, p := range remove {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	// An empty machine ID is "not yet set"; Boot writes each host's.
	empty := map[string]string{"etc/machine-id": "", "etc/resolv.conf": "", "etc/hosts": "127.0.0.1 localhost\n"}
	for p, data := range empty {
		if err := os.WriteFile(filepath.Join(root, p), []byte(data), 0o644); err != nil {
			return err
		}
	}
	for _, f := range imageFiles {
		p := filepath.Join(root, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			return err
		}
	}
	return nil
}
