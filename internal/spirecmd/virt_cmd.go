package spirecmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/disaster"
	"homeworld.dev/homeworld/internal/seq"
	"homeworld.dev/homeworld/internal/verify"
	"homeworld.dev/homeworld/internal/virt"
	"homeworld.dev/homeworld/internal/workspace"
)

func (a *app) virtCommand() *cobra.Command {
	var masters, workers int
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Prepare a workspace for a virtual cluster: setup.yaml, disaster key, authorities",
		Long: `Make everything a virtual cluster needs, skipping what already exists: the
workspace folder, a ready-made setup.yaml (one supervisor, --masters masters,
--workers workers, on a private address range that exists only between the
virtual nodes), the disaster key file, and the cluster's authorities.`,
		Example: `  export HOMEWORLD_DIR=/tmp/hw HOMEWORLD_DISASTER=/tmp/hw.key
  spire virt init && spire virt up`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := workspace.Resolve(a.dirFlag, a.getenv)
			if err != nil {
				return err
			}
			ws, err := workspace.Create(dir)
			if err != nil {
				return err
			}
			if err := virt.MarkVirtual(ws.Dir); err != nil {
				return err
			}
			if _, err := os.Stat(ws.SetupPath()); errors.Is(err, os.ErrNotExist) {
				if err := renameio.WriteFile(ws.SetupPath(), []byte(virt.Setup(masters, workers)), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(a.Stdout, "wrote %s (1 supervisor, %d masters, %d workers)\n", ws.SetupPath(), masters, workers)
			} else {
				fmt.Fprintf(a.Stdout, "keeping existing %s\n", ws.SetupPath())
			}
			keyPath, err := workspaceKeyPath(a)
			if err != nil {
				return err
			}
			if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
				if err := disaster.Generate(keyPath); err != nil {
					return err
				}
				fmt.Fprintf(a.Stdout, "wrote a new disaster key to %s\n", keyPath)
			}
			cfg, err := a.config(ws)
			if err != nil {
				return err
			}
			store := authority.NewStore(ws.Dir)
			if store.Exists() {
				fmt.Fprintln(a.Stdout, "keeping existing authorities")
				return nil
			}
			if _, _, err := a.createAuthorities(cmd.Context(), store, cfg, false); err != nil {
				return err
			}
			fmt.Fprintln(a.Stdout, "next: spire virt up")
			return nil
		},
	}
	initCmd.Flags().IntVar(&masters, "masters", 3, "number of masters")
	initCmd.Flags().IntVar(&workers, "workers", 1, "number of workers")

	var binFlag, hostsMode, branch string
	var timeout time.Duration
	var as string
	upCmd := &cobra.Command{
		Use:   "up",
		Short: "Bring up the workspace's cluster as namespaces on this machine (root)",
		Long: `Bring up every node of setup.yaml on this machine: a bridge, and per node a
network namespace with its own address, its own hostname, and its own
/etc/homeworld, /etc/ssh, /var/lib/homeworld and /var/log/homeworld. The
supervisor's keyserver starts with the cluster's authorities (unsealed with
the disaster key); every node is admitted with a one-time token exactly as an
install would, and up waits until each node's keyclient holds all its
credentials. Running up on a cluster that is up does nothing; a failed up
removes what it made. Needs root.

--hosts systemd boots the nodes as systemd hosts instead: systemd-nspawn
containers of a Debian 12 root (made once and cached) with systemd as PID 1
and a real sshd, on the same bridge and addresses, with nothing of Homeworld
installed. This machine serves the apt branch (--branch, a folder spire
branch build published with --url http://GATEWAY:8079/) on the bridge, and
root on every host trusts the workspace's admin SSH key. From there spire
sets them up over SSH exactly as bare metal (the original's flow):

  spire access pull-supervisor-key $HOMEWORLD_DIR/virt/host-keys
  spire infra install-packages --host-keys $HOMEWORLD_DIR/virt/host-keys
  spire seq supervisor
  spire setup node --all
  spire seq cluster`,
		Example: `  spire virt up
  spire virt up --hosts systemd --branch /srv/apt/stable`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := binDir(binFlag)
			if err != nil {
				return err
			}
			switch hostsMode {
			case "namespaces":
			case "systemd":
				return a.upSystemdHosts(cmd.Context(), bin, branch)
			default:
				return fmt.Errorf("--hosts %q: want namespaces (the fast path) or systemd", hostsMode)
			}
			if err := virt.Preflight(bin); err != nil {
				return err
			}
			ws, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			principal, err := access.ChoosePrincipal(cfg, as, a.getenv("USER"))
			if err != nil {
				return err
			}
			key, err := a.disasterKey()
			if err != nil {
				return err
			}
			auths, err := authority.NewStore(ws.Dir).Load(key)
			if err != nil {
				return err
			}
			start := time.Now()
			if err := virt.Up(cmd.Context(), virt.Options{
				Workspace: ws.Dir, SetupPath: ws.SetupPath(), Config: cfg, Authorities: auths,
				Principal: principal, BinDir: bin, Timeout: timeout, Out: a.Stdout,
			}); err != nil {
				return err
			}
			fmt.Fprintln(a.Stdout, "== spire seq cluster: proving the cluster works from its monitoring")
			if err := seq.Run(cmd.Context(), verify.ClusterSequence(cfg, verify.PrometheusFor(cfg, "")), a.seqOptions(3*time.Minute)); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "== up and proven working in %.1fs\n", time.Since(start).Seconds())
			return nil
		},
	}
	upCmd.Flags().StringVar(&binFlag, "bin-dir", "", "folder with virtnode, keyserver and keyclient (default: spire's own folder)")
	upCmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up (and clean up) if the cluster is not ready by then")
	upCmd.Flags().StringVar(&as, "as", "", "root admin who admits the nodes (default: the only one in root-admins)")
	upCmd.Flags().StringVar(&hostsMode, "hosts", "namespaces", "namespaces (the fast path: virtnode runs the services) or systemd (systemd-nspawn hosts set up over SSH)")
	upCmd.Flags().StringVar(&branch, "branch", "", "with --hosts systemd: the published apt branch folder to serve to the hosts")

	downCmd := &cobra.Command{
		Use:   "down",
		Short: "Remove every process, namespace, interface, mount and file of the virtual cluster",
		Long: `Stop every virtual node (its services first, in reverse order), then remove
the namespaces, interfaces, bridge, mount points and files 'spire virt up'
made. Safe to run any number of times, and after a crashed up.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := a.topology()
			if err != nil {
				return err
			}
			if err := virt.Down(t, a.Stdout); err != nil {
				return err
			}
			fmt.Fprintln(a.Stdout, "virtual cluster down")
			return nil
		},
	}
	var asJSON bool
	var every, watchFor time.Duration
	statusCmd := &cobra.Command{
		Use:   "status",
		Short: "Show each virtual node, its address, its services and their states",
		Long: `Show every virtual node: kind, address, whether its node process runs, the
memory of all its processes, and the state of each of its services as its
node supervisor reports them (the same states systemd would report). Memory
is also listed by program, adding up to each node's: its services, its pods'
programs (marked *), and its other processes by command (marked +): the
pods' containerd shims, the node process, and those that come and go, such
as a pull check's ctr and runc or a login's sshd.

With --every, watch memory instead: one line per sample with the cluster's
PSS and each node's, for --for (or until interrupted), then how much the
total moved and which programs grew most. A cluster at rest should level
off.`,
		Example: `  spire virt status
  spire virt status --every 5m --for 2h   # memory at rest, 25 samples`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if watchFor != 0 && every == 0 {
				return fmt.Errorf("--for needs --every: how often to sample")
			}
			if every < 0 || watchFor < 0 {
				return fmt.Errorf("--every and --for must not be negative")
			}
			if every > 0 && asJSON {
				return fmt.Errorf("--every prints a line per sample; it does not go with --json")
			}
			t, err := a.topology()
			if err != nil {
				return err
			}
			if every > 0 {
				samples := math.MaxInt
				if watchFor > 0 {
					samples = int(watchFor/every) + 1
				}
				return virt.WatchMemory(cmd.Context(), a.Stdout, every, samples, func() ([]virt.NodeStatus, error) { return virt.Status(t) })
			}
			nodes, err := virt.Status(t)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(nodes)
			}
			return virt.PrintStatus(a.Stdout, nodes)
		},
	}
	statusCmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	statusCmd.Flags().DurationVar(&every, "every", 0, "watch memory: sample every this long (e.g. 5m)")
	statusCmd.Flags().DurationVar(&watchFor, "for", 0, "with --every: stop after this long (default: until interrupted)")
	stopCmd := &cobra.Command{
		Use:   "stop NODE",
		Short: "Stop one virtual node, as if switching the machine off",
		Long: `Stop NODE's services (in reverse dependency order) and its node process, then
kill what power-off would: its containers and anything else left in its
network namespace. Its network and files stay, so 'spire virt start NODE'
boots it again with the files it had; its pods start afresh, as after a
reboot.
A systemd host (spire virt up --hosts systemd) shuts down as a machine does,
keeping its root filesystem as its disk.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := a.topology()
			if err != nil {
				return err
			}
			if err := virt.StopNode(t, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "stopped %s\n", args[0])
			return nil
		},
	}
	startCmd := &cobra.Command{
		Use:   "start NODE",
		Short: "Start a stopped virtual node again",
		Long: `Start NODE's node process again with the files it had; its services start in
dependency order. A systemd host boots again from the root it kept, and
systemd starts the units enabled on it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bin, err := binDir(binFlag)
			if err != nil {
				return err
			}
			ws, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			t, err := virt.NewTopology(ws.Dir, cfg)
			if err != nil {
				return err
			}
			if err := virt.StartNode(t, args[0], virt.Options{Workspace: ws.Dir, SetupPath: ws.SetupPath(), Config: cfg, BinDir: bin}); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "started %s\n", args[0])
			return nil
		},
	}
	startCmd.Flags().StringVar(&binFlag, "bin-dir", "", "folder with Homeworld's binaries (default: spire's own folder)")
	serviceCmd := &cobra.Command{
		Use:   "service NODE SERVICE stop|start",
		Short: "Stop or start one service of one virtual node",
		Long: `Stop SERVICE on NODE (it stays stopped: no restart) or start it again, through
the node's supervisor, as 'systemctl stop' and 'systemctl start' would on a
real host. Useful to see what the checks of 'spire verify' report.`,
		Example: `  spire virt service worker1 kube-proxy stop`,
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[2] != "stop" && args[2] != "start" {
				return fmt.Errorf("the action is stop or start, not %q", args[2])
			}
			t, err := a.topology()
			if err != nil {
				return err
			}
			if err := virt.ServiceControl(t, args[0], args[1], args[2]); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "%s: %s %s\n", args[0], args[1], map[string]string{"stop": "stopped", "start": "started"}[args[2]])
			return nil
		},
	}
	var upstreamBin string
	upstreamCmd := &cobra.Command{
		Use:   "upstream-dns stop|start",
		Short: "Stop or start the virtual cluster's upstream DNS resolver",
		Long: `The virtual cluster's DNS forwards names outside the cluster to a resolver of
its own on the bridge's host address (in place of setup.yaml's dns-upstreams,
which a test machine must not reach). Stop it to see the cluster without its
upstream: names inside the cluster still resolve, and 'spire verify dns' fails
naming the forwarded name; start it again.`,
		Example: `  spire virt upstream-dns stop`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "stop" && args[0] != "start" {
				return fmt.Errorf("the action is stop or start, not %q", args[0])
			}
			t, err := a.topology()
			if err != nil {
				return err
			}
			bin, err := binDir(upstreamBin)
			if err != nil {
				return err
			}
			if err := virt.UpstreamDNS(cmd.Context(), t, bin, args[0] == "start", a.Stdout); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "upstream resolver %s\n", map[string]string{"stop": "stopped", "start": "started"}[args[0]])
			return nil
		},
	}
	upstreamCmd.Flags().StringVar(&upstreamBin, "bin-dir", "", "folder with Homeworld's binaries (default: spire's own folder)")
	importCmd := &cobra.Command{
		Use:   "import-images ARCHIVE...",
		Short: "Load image archives into every running virtual node's containerd",
		Long: `Import image archives (as imagebuild writes them) into the containerd of
every virtual node that runs pods, as kubelet's start does with Homeworld's own
images. For images a cluster needs only at times, such as those of
Kubernetes' conformance suite (scripts/conformance); a node started later
does not have them.`,
		Example: `  spire virt import-images bin/conformance-images/*.tar`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := a.topology()
			if err != nil {
				return err
			}
			return virt.ImportImages(t, args, a.Stdout)
		},
	}
	return group("virt", "Run the cluster as a virtual cluster of namespaces on this machine", initCmd, upCmd, statusCmd, serviceCmd, stopCmd, startCmd, upstreamCmd, importCmd, downCmd, a.serveBranchCommand())
}

// topology names the virtual cluster of the workspace.
func (a *app) topology() (*virt.Topology, error) {
	ws, cfg, err := a.workspaceConfig()
	if err != nil {
		return nil, err
	}
	return virt.NewTopology(ws.Dir, cfg)
}

func workspaceKeyPath(a *app) (string, error) {
	return workspace.DisasterKeyPath(a.keyFlag, a.getenv)
}
