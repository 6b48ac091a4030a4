package keygateway

import (
	"fmt"
	"slices"
	"strings"

	"homeworld.dev/homeworld/internal/policy"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"homeworld.dev/homeworld/internal/config"
)

// CheckKeytab says whether a keytab serves the gateway of cfg: it must hold
// a key of HTTP/<supervisor fqdn>@REALM; a missing host/ key only stops
// auth-monitor's gateway check, and a missing HTTP/<user-grant-domain> key
// user-grant, which the warning says.
func CheckKeytab(cfg *config.Config, data []byte) (warning string, err error) {
	kt := keytab.New()
	if err := kt.Unmarshal(data); err != nil {
		return "", fmt.Errorf("not a keytab: %v", err)
	}
	var have []string
	for _, e := range kt.Entries {
		p := e.Principal.String()
		if !slices.Contains(have, p) {
			have = append(have, p)
		}
	}
	service := policy.GatewayService(cfg) + "@" + cfg.Cluster.KerberosRealm
	if !slices.Contains(have, service) {
		return "", fmt.Errorf("the keytab holds no key for %s, the gateway's service principal (it holds %s); create it with kadmin: addprinc -randkey %s; ktadd -k FILE %s",
			service, listOrNone(have), service, service)
	}
	var warnings []string
	if probe := policy.GatewayProbe(cfg); !slices.Contains(have, probe) {
		warnings = append(warnings, fmt.Sprintf("the keytab holds no key for %s: auth-monitor cannot check the gateway (keysystem_gateway_auth_check stays 0) until it does", probe))
	}
	if d := cfg.Cluster.UserGrantDomain; d != "" {
		if p := "HTTP/" + d + "@" + cfg.Cluster.KerberosRealm; !slices.Contains(have, p) {
			warnings = append(warnings, fmt.Sprintf("the keytab holds no key for %s: user-grant refuses every ticket until it does", p))
		}
	}
	return strings.Join(warnings, "; "), nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
