package krb5test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// enctypes are the ones gokrb5, used elsewhere in the tree, supports.
const enctypes = "aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal"

// ports are the realm's loopback ports; kadmind and kpasswd are 0 without
// kadmind.
type ports struct{ kdc, kadmind, kpasswd int }

// writeConfig writes krb5.conf, kdc.conf and the kadmind ACL for ports.
// Every listener is bound to 127.0.0.1 alone.
func (k *KDC) writeConfig(p ports, maxLife time.Duration) error {
	k.KDCAddr = loopback(p.kdc)
	k.AdminAddr = ""
	admin := ""
	if p.kadmind != 0 {
		k.AdminAddr = loopback(p.kadmind)
		admin = "\t\tadmin_server = " + k.AdminAddr + "\n\t\tkpasswd_server = " + loopback(p.kpasswd) + "\n"
	}
	krb5 := fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
	dns_canonicalize_hostname = false
	default_ccache_name = FILE:%[2]s/default.ccache
	default_keytab_name = FILE:%[2]s/default.keytab
	default_client_keytab_name = FILE:%[2]s/client.keytab

[realms]
	%[1]s = {
		kdc = %[3]s
%[4]s	}
`, k.Realm, k.Dir, k.KDCAddr, admin)

	// The KDC's addresses go in [kdcdefaults] too, or it would also listen
	// on its default port 88 there.
	listen := "\tkdc_listen = " + k.KDCAddr + "\n\tkdc_tcp_listen = " + k.KDCAddr + "\n"
	realmListen := "\t\tkdc_listen = " + k.KDCAddr + "\n\t\tkdc_tcp_listen = " + k.KDCAddr + "\n"
	if p.kadmind != 0 {
		realmListen += "\t\tkadmind_listen = " + k.AdminAddr + "\n\t\tkpasswd_listen = " + loopback(p.kpasswd) + "\n"
	}
	kdc := fmt.Sprintf(`[kdcdefaults]
%[1]s
[realms]
	%[2]s = {
		database_name = %[3]s/principal
		key_stash_file = %[3]s/stash
		acl_file = %[3]s/kadm5.acl
%[4]s		max_life = %[5]ds
		max_renewable_life = %[5]ds
		master_key_type = aes256-cts-hmac-sha1-96
		supported_enctypes = %[6]s
	}

[logging]
	kdc = FILE:%[3]s/krb5kdc.log
	admin_server = FILE:%[3]s/kadmind.log
	default = FILE:%[3]s/krb5lib.log
`, listen, k.Realm, k.Dir, realmListen, int(maxLife/time.Second), enctypes)

	acl := "*/admin@" + k.Realm + " *\n"
	for path, text := range map[string]string{k.Config: krb5, k.profile: kdc, filepath.Join(k.Dir, "kadm5.acl"): acl} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// freePorts picks n distinct loopback ports that are free for both TCP and
// UDP right now. Another process may take one before the daemon binds it;
// Start retries with new ports when that happens.
func freePorts(n int) ([]int, error) {
	var out []int
	var held []interface{ Close() error }
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for len(out) < n {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		held = append(held, tl)
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", loopback(port))
		if err != nil {
			continue // UDP side taken: keep the TCP one held so it is not picked again
		}
		held = append(held, ul)
		out = append(out, port)
	}
	return out, nil
}
