package keytab

import (
	"fmt"
	"slices"
	"strings"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/policy"
)

// CheckSupervisor says whether the supervisor's keytab serves cfg's key
// gateway: it must hold a key of HTTP/<supervisor fqdn>@REALM (the error
// says how to make one). A missing host/<supervisor fqdn> key only stops
// auth-monitor's check of the gateway, and a missing
// HTTP/<user-grant-domain> key user-grant, which the warning says.
func CheckSupervisor(cfg *config.Config, entries []Entry) (warning string, err error) {
	have := Principals(entries)
	service := policy.GatewayService(cfg) + "@" + cfg.Cluster.KerberosRealm
	if !slices.Contains(have, service) {
		held := "none"
		if len(have) > 0 {
			held = strings.Join(have, ", ")
		}
		return "", fmt.Errorf("the keytab holds no key for %s, the gateway's service principal (it holds %s); create it with kadmin: addprinc -randkey %s; ktadd -k FILE %s",
			service, held, service, service)
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
