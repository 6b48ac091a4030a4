package nodeconf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"homeworld.dev/homeworld/internal/config"
)

// LoadCluster reads and parses the cluster.conf at path.
func LoadCluster(path string) (Cluster, error) { return load(path, ParseCluster) }

// LoadLocal reads and parses the local.conf at path.
func LoadLocal(path string) (Local, error) { return load(path, ParseLocal) }

func load[T any](path string, parse func(string, []byte) (T, error)) (T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var zero T
		return zero, err
	}
	return parse(path, data)
}

// ParseCluster reads cluster.conf; file names it in errors. Every key
// Render writes is required, and the keys that repeat the masters'
// addresses must agree with ETCD_CLUSTER.
func ParseCluster(file string, data []byte) (Cluster, error) {
	r, err := read(file, data)
	if err != nil {
		return Cluster{}, err
	}
	c := Cluster{
		Domain:        r.text("DOMAIN"),
		ClusterDomain: r.text("CLUSTER_DOMAIN"),
		ClusterCIDR:   r.prefix("CLUSTER_CIDR"),
		ServiceCIDR:   r.prefix("SERVICE_CIDR"),
		ServiceAPI:    r.addr("SERVICE_API"),
		ServiceDNS:    r.addr("SERVICE_DNS"),
		EtcdToken:     r.text("ETCD_TOKEN"),
		Masters:       r.masters("ETCD_CLUSTER"),
		Virtual:       r.boolean("VIRTUAL"),
	}
	return c, r.agree(c.values)
}

// ParseLocal reads local.conf; file names it in errors.
func ParseLocal(file string, data []byte) (Local, error) {
	r, err := read(file, data)
	if err != nil {
		return Local{}, err
	}
	l := Local{
		Hostname: r.text("HOST_NODE"),
		FQDN:     r.text("HOST_DNS"),
		IP:       r.addr("HOST_IP"),
		Kind:     r.kind("KIND"),
	}
	r.boolean("SCHEDULE_WORK") // checked against KIND below
	return l, r.agree(l.values)
}

// reader holds one file's KEY=VALUE lines and the problems found in them.
// Keys it is not asked for are ignored: a newer keyserver may add a key
// before every node's parser knows it, and refusing the file would stop the
// older nodes' services.
type reader struct {
	file string
	kv   map[string]entry
	errs []error
}

type entry struct {
	value string
	line  int
}

// read splits data into keys: blank lines and lines starting with # are
// skipped; any other line needs an '=', and no key may come twice.
func read(file string, data []byte) (*reader, error) {
	r := &reader{file: file, kv: map[string]entry{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch first, dup := r.kv[k]; {
		case !ok || k == "":
			r.errs = append(r.errs, fmt.Errorf("%s:%d: %q is not KEY=VALUE", file, line, l))
		case dup:
			r.errs = append(r.errs, fmt.Errorf("%s:%d: %s again (first on line %d)", file, line, k, first.line))
		default:
			r.kv[k] = entry{v, line}
		}
	}
	if err := sc.Err(); err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %w", file, err))
	}
	return r, errors.Join(r.errs...)
}

// value returns key's value and line; a missing or empty key is a problem.
func (r *reader) value(key string) (string, int, bool) {
	e, ok := r.kv[key]
	if !ok {
		r.errs = append(r.errs, fmt.Errorf("%s: %s is missing", r.file, key))
		return "", 0, false
	}
	if e.value == "" {
		r.errs = append(r.errs, fmt.Errorf("%s:%d: %s is empty", r.file, e.line, key))
		return "", 0, false
	}
	return e.value, e.line, true
}

// typed parses key's value with parse, recording a problem that names the
// line, the key and what the value should have been.
func typed[T any](r *reader, key, want string, parse func(string) (T, error)) T {
	var out T
	v, line, ok := r.value(key)
	if !ok {
		return out
	}
	out, err := parse(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s:%d: %s=%s is not %s", r.file, line, key, v, want))
	}
	return out
}

func (r *reader) text(key string) string {
	return typed(r, key, "text", func(s string) (string, error) { return s, nil })
}

func (r *reader) addr(key string) netip.Addr {
	return typed(r, key, "an IP address", netip.ParseAddr)
}

func (r *reader) prefix(key string) netip.Prefix {
	return typed(r, key, "an address prefix (CIDR)", netip.ParsePrefix)
}

func (r *reader) boolean(key string) bool {
	return typed(r, key, "true or false", strconv.ParseBool)
}

func (r *reader) kind(key string) config.Kind {
	return typed(r, key, "a node kind", func(s string) (config.Kind, error) {
		if !slices.Contains(config.Kinds, config.Kind(s)) {
			return "", errors.New("unknown kind")
		}
		return config.Kind(s), nil
	})
}

// masters reads ETCD_CLUSTER's name=peer-URL list.
func (r *reader) masters(key string) []Master {
	return typed(r, key, "a list of name=URL", func(s string) ([]Master, error) {
		var out []Master
		for _, member := range strings.Split(s, ",") {
			name, peer, ok := strings.Cut(member, "=")
			if !ok || name == "" {
				return nil, errors.New("no name")
			}
			u, err := url.Parse(peer)
			if err != nil {
				return nil, err
			}
			ip, err := netip.ParseAddr(u.Hostname())
			if err != nil {
				return nil, err
			}
			out = append(out, Master{Name: name, IP: ip})
		}
		return out, nil
	})
}

// agree finishes a parse: once every field read cleanly, each key must
// hold exactly what rendering the fields writes, which checks the keys that
// repeat other keys' facts (and refuses spellings such as " 010.0.0.1").
func (r *reader) agree(render func() map[string]string) error {
	if len(r.errs) == 0 {
		want := render()
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if e := r.kv[k]; e.value != want[k] {
				r.errs = append(r.errs, fmt.Errorf("%s:%d: %s=%s disagrees with the file's other keys, which give %s", r.file, e.line, k, e.value, want[k]))
			}
		}
	}
	return errors.Join(r.errs...)
}
