// Package flannelcni is the CNI plugin that puts pods on flannel's network:
// on each ADD it reads the node's subnet from flanneld's subnet.env and
// delegates to the standard bridge plugin with host-local addresses from
// that subnet, the VXLAN MTU and a route to the whole pod network. The
// delegate's configuration is saved per container, so DEL undoes exactly
// what ADD did even if flannel has since restarted. flannel's own CNI
// plugin does this; it is not obtainable here. cmd/homeworld-flannel runs
// it, and containerd calls it as the network's first plugin.
package flannelcni

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/google/renameio/v2"
)

// Type is the plugin's name in a CNI configuration.
const Type = "homeworld-flannel"

// Conf is the plugin's part of the network configuration.
type Conf struct {
	types.NetConf
	// SubnetFile is flanneld's --subnet-file.
	SubnetFile string `json:"subnetFile"`
	// DataDir keeps delegate configurations (per container) and the
	// host-local address store, on the node's own disk.
	DataDir string `json:"dataDir"`
	// Bridge is the node's pod bridge.
	Bridge string `json:"bridge"`
	// SubnetWait is how long ADD waits for subnet.env when flanneld has
	// not leased the node's subnet yet (a Go duration; DefaultSubnetWait
	// when empty).
	SubnetWait string `json:"subnetWait,omitempty"`

	wait time.Duration // SubnetWait as parse read it
}

// DefaultSubnetWait covers flanneld's start on a booting node. A node's
// first pods are scheduled as soon as its kubelet is Ready, which can be
// seconds before flanneld has its lease; failing then made the kubelet
// retry the sandbox only 10-15 s later, on the path to a working cluster.
// It stays well inside the kubelet's 2-minute limit on a sandbox's start.
const DefaultSubnetWait = 30 * time.Second

// subnetPoll is how often ADD looks for subnet.env while it waits.
const subnetPoll = 100 * time.Millisecond

// Subnet is what flanneld wrote in subnet.env.
type Subnet struct {
	Network netip.Prefix // FLANNEL_NETWORK: every pod of the cluster
	Subnet  netip.Prefix // FLANNEL_SUBNET: this node's pods (first address: the bridge)
	MTU     int          // FLANNEL_MTU: the VXLAN device's
	IPMasq  bool         // FLANNEL_IPMASQ: flanneld masquerades leaving traffic itself
}

// ReadSubnet parses flanneld's subnet.env.
func ReadSubnet(path string) (Subnet, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Subnet{}, fmt.Errorf("%s does not exist: flanneld has not leased this node's subnet yet (is the flannel service running?)", path)
	}
	if err != nil {
		return Subnet{}, err
	}
	defer f.Close()
	kv := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok {
			kv[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return Subnet{}, err
	}
	var s Subnet
	var errs []error
	prefix := func(key string) netip.Prefix {
		p, err := netip.ParsePrefix(kv[key])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s=%q is not an address range", path, key, kv[key]))
		}
		return p
	}
	s.Network, s.Subnet = prefix("FLANNEL_NETWORK"), prefix("FLANNEL_SUBNET")
	if s.MTU, err = strconv.Atoi(kv["FLANNEL_MTU"]); err != nil || s.MTU < 576 {
		errs = append(errs, fmt.Errorf("%s: FLANNEL_MTU=%q is not an MTU", path, kv["FLANNEL_MTU"]))
	}
	s.IPMasq = kv["FLANNEL_IPMASQ"] == "true"
	return s, errors.Join(errs...)
}

// Delegate is the bridge plugin's configuration for s: the bridge is the
// gateway (first address of the subnet) and the default route, addresses
// come from the subnet, and the bridge masquerades only if flanneld does
// not.
func (c Conf) Delegate(s Subnet) ([]byte, error) {
	return json.Marshal(map[string]any{
		"cniVersion":       c.CNIVersion,
		"name":             c.Name,
		"type":             "bridge",
		"bridge":           c.Bridge,
		"mtu":              s.MTU,
		"isGateway":        true,
		"isDefaultGateway": true,
		"ipMasq":           !s.IPMasq,
		"hairpinMode":      true,
		"ipam": map[string]any{
			"type":    "host-local",
			"dataDir": filepath.Join(c.DataDir, "networks"),
			"ranges":  [][]map[string]string{{{"subnet": s.Subnet.Masked().String(), "gateway": s.Subnet.Addr().String()}}},
			// An explicit gateway: the bridge plugin's CHECK looks for
			// the route exactly as the result states it.
			"routes": []map[string]string{{"dst": s.Network.String(), "gw": s.Subnet.Addr().String()}},
		},
	})
}

func parse(args *skel.CmdArgs) (Conf, error) {
	var c Conf
	if err := json.Unmarshal(args.StdinData, &c); err != nil {
		return c, fmt.Errorf("%s: network configuration: %w", Type, err)
	}
	if c.SubnetFile == "" || c.DataDir == "" || c.Bridge == "" {
		return c, fmt.Errorf("%s: network configuration needs subnetFile, dataDir and bridge", Type)
	}
	c.wait = DefaultSubnetWait
	if c.SubnetWait != "" {
		var err error
		if c.wait, err = time.ParseDuration(c.SubnetWait); err != nil {
			return c, fmt.Errorf("%s: network configuration: subnetWait: %w", Type, err)
		}
	}
	return c, nil
}

// waitSubnet reads subnet.env once flanneld has written it (it renames a
// finished file into place), waiting up to the configured time.
func (c Conf) waitSubnet() (Subnet, error) {
	deadline := time.Now().Add(c.wait)
	missing := true
	for {
		_, err := os.Stat(c.SubnetFile)
		if missing = errors.Is(err, os.ErrNotExist); !missing || !time.Now().Before(deadline) {
			break
		}
		time.Sleep(subnetPoll)
	}
	s, err := ReadSubnet(c.SubnetFile)
	if err != nil && missing && c.wait > 0 {
		err = fmt.Errorf("waited %v: %w", c.wait, err)
	}
	return s, err
}

// saved is where the delegate configuration of one container's interface
// is kept between ADD and DEL.
func (c Conf) saved(args *skel.CmdArgs) string {
	return filepath.Join(c.DataDir, "delegates", args.ContainerID+"-"+args.IfName+".json")
}

func add(args *skel.CmdArgs) error {
	c, err := parse(args)
	if err != nil {
		return err
	}
	s, err := c.waitSubnet()
	if err != nil {
		return err
	}
	d, err := c.Delegate(s)
	if err != nil {
		return err
	}
	path := c.saved(args)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := renameio.WriteFile(path, d, 0o600); err != nil {
		return err
	}
	res, err := invoke.DelegateAdd(context.Background(), "bridge", d, nil)
	if err != nil {
		return err
	}
	return types.PrintResult(res, c.CNIVersion)
}

func check(args *skel.CmdArgs) error {
	c, err := parse(args)
	if err != nil {
		return err
	}
	d, err := os.ReadFile(c.saved(args))
	if err != nil {
		return err
	}
	// CHECK compares against the result the runtime recorded, which it
	// hands to us; the delegate needs it too.
	var in, out map[string]json.RawMessage
	if err := json.Unmarshal(args.StdinData, &in); err != nil {
		return err
	}
	if err := json.Unmarshal(d, &out); err != nil {
		return err
	}
	out["prevResult"] = in["prevResult"]
	if d, err = json.Marshal(out); err != nil {
		return err
	}
	return invoke.DelegateCheck(context.Background(), "bridge", d, nil)
}

func del(args *skel.CmdArgs) error {
	c, err := parse(args)
	if err != nil {
		return err
	}
	path := c.saved(args)
	d, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // never added, or already deleted: DEL must be idempotent
	}
	if err != nil {
		return err
	}
	if err := invoke.DelegateDel(context.Background(), "bridge", d, nil); err != nil {
		return err
	}
	return os.Remove(path)
}

// Main runs the plugin as CNI calls it (environment and stdin).
func Main() {
	skel.PluginMainFuncs(skel.CNIFuncs{Add: add, Check: check, Del: del}, version.All, Type+": pods on flannel's network")
}
