package installer

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"homeworld.dev/homeworld/internal/config"
)

// Options says where the config was read from. Without Source, refusals
// still name the field but carry no line.
type Options struct {
	File   string // setup.yaml's path as messages show it; config.FileName if empty
	Source []byte // setup.yaml's text, as config.Parse read it
}

// The installer's commands: the scripts sit in its initrd, below Dir,
// next to the files of Files. EarlyCommand runs once the preseed is read
// and prints a marker on the console; PartmanCommand picks the disk;
// LateCommand finishes the installed system.
const (
	EarlyCommand   = "sh /" + Dir + "/early-command.sh"
	PartmanCommand = "sh /" + Dir + "/prepartition.sh"
	LateCommand    = "sh /" + Dir + "/late-command.sh"
)

// EarlyMarker starts the line EarlyCommand prints on the console.
const EarlyMarker = "homeworld-installer: preseed loaded for "

// RootRecipe is partman's expert recipe: one bootable ext4 / over the
// whole disk (at least 5 GB) and no swap, which kubelet refuses anyway.
const RootRecipe = "root :: 5000 10000 -1 ext4 $primary{ } $bootable{ } method{ format } format{ } use_filesystem{ } filesystem{ ext4 } mountpoint{ / } ."

// answer is one preseed line; field names the setup.yaml key its value
// came from, "" for Homeworld's own constants.
type answer struct{ owner, question, kind, value, field string }

// Preseed writes the debconf preseed that installs node n without asking
// anything: static address, the cluster's mirror, one ext4 partition, SSH
// and no password login at all (admins use ssh-user CA certificates).
func Preseed(c *config.Config, n config.Node, o Options) ([]byte, error) {
	src := source{o}
	idx, err := nodeIndex(c, n, src)
	if err != nil {
		return nil, err
	}
	if c.Cluster.Mirror == "" {
		return nil, src.problem("cluster.mirror", "is required to build an installer: the Debian mirror as host/path, e.g. deb.debian.org/debian")
	}
	host, dir, _ := strings.Cut(c.Cluster.Mirror, "/")
	nodes, err := netip.ParsePrefix(c.Addresses.CIDRNodes)
	if err != nil || !nodes.Addr().Is4() {
		return nil, src.problem("addresses.cidr-nodes", "%q is not an IPv4 range", c.Addresses.CIDRNodes)
	}
	if len(c.DNSUpstreams) == 0 {
		return nil, src.problem("dns-upstreams", "is required to build an installer: the installer resolves the mirror through them")
	}
	node := fmt.Sprintf("nodes[%d]", idx)
	d := func(question, kind, value string) answer { return answer{"d-i", question, kind, value, ""} }
	from := func(a answer, field string) answer { a.field = field; return a }
	answers := []answer{
		d("debian-installer/locale", "string", "en_US.UTF-8"),
		d("keyboard-configuration/xkb-keymap", "select", "us"),
		d("hw-detect/load_firmware", "boolean", "false"),

		d("preseed/early_command", "string", EarlyCommand),
		d("partman/early_command", "string", PartmanCommand),

		d("netcfg/choose_interface", "select", "auto"),
		d("netcfg/disable_autoconfig", "boolean", "true"),
		from(d("netcfg/get_ipaddress", "string", n.IP), node+".ip"),
		from(d("netcfg/get_netmask", "string", netmask(nodes.Bits())), "addresses.cidr-nodes"),
		from(d("netcfg/get_gateway", "string", nodes.Addr().Next().String()), "addresses.cidr-nodes"),
		from(d("netcfg/get_nameservers", "string", strings.Join(c.DNSUpstreams, " ")), "dns-upstreams"),
		d("netcfg/confirm_static", "boolean", "true"),
		from(d("netcfg/get_hostname", "string", n.Hostname), node+".hostname"),
		from(d("netcfg/get_domain", "string", c.Cluster.ExternalDomain), "cluster.external-domain"),
		// netcfg/hostname wins over a name a DHCP or DNS answer suggests.
		from(d("netcfg/hostname", "string", n.Hostname), node+".hostname"),

		d("mirror/country", "string", "manual"),
		from(d("mirror/http/hostname", "string", host), "cluster.mirror"),
		from(d("mirror/http/directory", "string", "/"+dir), "cluster.mirror"),
		d("mirror/http/proxy", "string", ""),

		// No user, and root with a locked password: user-setup would make a
		// sudo user if root login were off. "!" is never a valid hash.
		d("passwd/make-user", "boolean", "false"),
		d("passwd/root-login", "boolean", "true"),
		d("passwd/root-password-crypted", "password", "!"),

		d("clock-setup/utc", "boolean", "true"),
		d("time/zone", "string", "Etc/UTC"),
		d("clock-setup/ntp", "boolean", "true"),

		d("partman-auto/method", "string", "regular"),
		d("partman-auto/expert_recipe", "string", RootRecipe),
		d("partman-lvm/device_remove_lvm", "boolean", "true"),
		d("partman-md/device_remove_md", "boolean", "true"),
		d("partman-lvm/confirm", "boolean", "true"),
		d("partman-lvm/confirm_nooverwrite", "boolean", "true"),
		d("partman-basicfilesystems/no_swap", "boolean", "false"),
		d("partman-partitioning/confirm_write_new_label", "boolean", "true"),
		d("partman/choose_partition", "select", "finish"),
		d("partman/confirm", "boolean", "true"),
		d("partman/confirm_nooverwrite", "boolean", "true"),

		d("base-installer/kernel/image", "string", "linux-image-amd64"),
		d("apt-setup/cdrom/set-first", "boolean", "false"),
		{"tasksel", "tasksel/first", "multiselect", "ssh-server", ""},
		d("pkgsel/include", "string", "openssl curl ca-certificates gnupg"),
		{"popularity-contest", "popularity-contest/participate", "boolean", "false", ""},
		d("grub-installer/only_debian", "boolean", "true"),
		d("grub-installer/bootdev", "string", "default"),
		d("finish-install/reboot_in_progress", "note", ""),
		d("preseed/late_command", "string", LateCommand),
	}
	if c.VLAN != 0 {
		// netcfg puts the address on an 802.1Q interface over the chosen
		// one, and writes it so into the installed system's interfaces.
		answers = append(answers,
			from(d("netcfg/use_vlan", "boolean", "true"), "vlan"),
			from(d("netcfg/vlan_id", "string", strconv.Itoa(c.VLAN)), "vlan"))
	}
	if realm := c.Cluster.KerberosRealm; realm != "" {
		answers = append(answers, answer{"krb5-config", "krb5-config/default_realm", "string", realm, "cluster.kerberos-realm"})
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "# Debian installer preseed for %s, written by spire iso gen.\n", c.FQDN(n))
	for _, a := range answers {
		if a.field != "" {
			if msg := lineSafe(a.value); msg != "" {
				return nil, src.problem(a.field, "cannot go into the preseed: %s", msg)
			}
		}
		line := strings.Join([]string{a.owner, a.question, a.kind, a.value}, " ")
		b.WriteString(strings.TrimSuffix(line, " ") + "\n")
	}
	return b.Bytes(), nil
}

// nodeIndex finds n among setup.yaml's nodes: an installer for a machine
// the cluster does not know could never be admitted.
func nodeIndex(c *config.Config, n config.Node, src source) (int, error) {
	var names []string
	for i, m := range c.Nodes {
		if m == n {
			return i, nil
		}
		names = append(names, m.Hostname)
	}
	return 0, src.problem("nodes", "no node %q with ip %s and kind %s (nodes: %s)", n.Hostname, n.IP, n.Kind, strings.Join(names, ", "))
}

// netmask writes a prefix length as a dotted IPv4 mask.
func netmask(bits int) string {
	var m [4]byte
	for i := range bits {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(m).String()
}
