package keyserver_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/keysystemtest"
	"homeworld.dev/homeworld/internal/pki"
	"homeworld.dev/homeworld/internal/policy"
)

// TestUserGrantSignsUsers: user-grant obtains a Kubernetes client
// certificate for the user its request names and for nothing else: no
// organization (system:masters least of all), no names, no other CN.
func TestUserGrantSignsUsers(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	sup := c.Config.FQDN(c.Config.Supervisor())
	ug := c.SupervisorClient(policy.UserGrantPrincipal(sup))
	// Names the CSR asks for besides the CN are not copied.
	body := csrFor(t, pkix.Name{CommonName: "user:alice", OrganizationalUnit: []string{"system:masters"}})
	res, err := ug.Call1(ctx, "", keyapi.SignKubeUser, body)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCert([]byte(res))
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "user:alice" || len(cert.Subject.Organization) != 0 || len(cert.Subject.OrganizationalUnit) != 0 {
		t.Errorf("user certificate for %v, want CN user:alice alone", cert.Subject)
	}
	if len(cert.DNSNames)+len(cert.IPAddresses)+len(cert.URIs)+len(cert.EmailAddresses) != 0 {
		t.Errorf("user certificate names %v %v %v %v", cert.DNSNames, cert.IPAddresses, cert.URIs, cert.EmailAddresses)
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("user certificate usages %v, want client auth only", cert.ExtKeyUsage)
	}
	if life := time.Until(cert.NotAfter); life > policy.DefaultLifetimes.User || life < policy.DefaultLifetimes.User-time.Minute {
		t.Errorf("user certificate lasts %v, want %v", life, policy.DefaultLifetimes.User)
	}
	if err := cert.CheckSignatureFrom(c.Authority(keyapi.Kubernetes).Cert); err != nil {
		t.Errorf("user certificate is not from the kubernetes authority: %v", err)
	}
	if log := c.AuditLog(); !strings.Contains(log, `"principal":"user-grant@`+sup+`","remote":"127.0.0.10","api":"`+string(keyapi.SignKubeUser)+`","result":"ok","detail":"user alice, serial`) {
		t.Errorf("the grant's audit line does not name the user:\n%s", log)
	}

	for _, tc := range []struct {
		subject pkix.Name
		want    string
	}{
		{pkix.Name{CommonName: "user:alice", Organization: []string{"system:masters"}}, `organizations ["system:masters"]`},
		{pkix.Name{CommonName: "user:x", Organization: []string{"system:masters"}}, `"x" does not match`}, // names are 2 to 32 characters
		{pkix.Name{CommonName: "alice"}, `"alice" is not a user's`},
		{pkix.Name{CommonName: "root:admin"}, `"root:admin" is not a user's`},
		{pkix.Name{CommonName: "user:../x"}, `"../x" does not match`},
		{pkix.Name{CommonName: "user:Alice"}, `"Alice" does not match`},
	} {
		before := len(c.AuditLog())
		_, err := ug.Call1(ctx, "", keyapi.SignKubeUser, csrFor(t, tc.subject))
		wantStatus(t, err, http.StatusBadRequest, tc.want)
		if log := c.AuditLog()[before:]; !strings.Contains(log, `"action":"refuse"`) || strings.Contains(log, `"action":"grant"`) {
			t.Errorf("%v: audit %s", tc.subject, log)
		}
	}
	_, err = ug.Call1(ctx, "", keyapi.SignKubeUser, "garbage")
	wantStatus(t, err, http.StatusBadRequest, "not a PEM CERTIFICATE REQUEST")

	// user-grant may do nothing else, and nobody else may do this.
	_, err = ug.Call1(ctx, "", keyapi.AccessKubernetes, csr(t))
	wantStatus(t, err, http.StatusForbidden, "may not call")
	_, err = ug.Call1(ctx, "", keyapi.ImpersonateAdmin, "admin")
	wantStatus(t, err, http.StatusForbidden, "may not call")
	for _, cl := range []*keyapi.Client{c.NodeClient("supervisor"), c.AdminClient(), c.GatewayClient()} {
		_, err = cl.Call1(ctx, "", keyapi.SignKubeUser, body)
		wantStatus(t, err, http.StatusForbidden, "may not call")
	}
	_, err = c.Client("127.0.0.200", c.Identity(policy.UserGrantPrincipal(sup))).Call1(ctx, "", keyapi.SignKubeUser, body)
	wantStatus(t, err, http.StatusUnauthorized, "may only call from")
}

// TestSupervisorObtainsServiceCredentials: the supervisor obtains the
// gateway's and user-grant's identities, which authenticate as those
// accounts, and the gateway's serving certificate, which keyserver clients
// refuse.
func TestSupervisorObtainsServiceCredentials(t *testing.T) {
	c := keysystemtest.Start(t, policy.Lifetimes{})
	sup := c.Config.FQDN(c.Config.Supervisor())
	node := c.NodeClient("supervisor")
	for api, cn := range map[keyapi.API]string{
		keyapi.GrantKeygateway:      policy.GatewayPrincipal(sup),
		keyapi.GrantUserGrant:       policy.UserGrantPrincipal(sup),
		keyapi.GrantKeygatewayHTTPS: "keygateway " + sup,
		keyapi.GrantUserGrantHTTPS:  "user-grant " + sup,
		keyapi.GrantKubeUserGrant:   "user-grant:supervisor",
	} {
		res, err := node.Call1(ctx, "", api, csr(t))
		if err != nil {
			t.Fatalf("%s: %v", api, err)
		}
		cert, _ := pki.ParseCert([]byte(res))
		if cert.Subject.CommonName != cn || len(cert.Subject.Organization) != 0 {
			t.Errorf("%s: certificate for %v, want CN %s", api, cert.Subject, cn)
		}
		if api == keyapi.GrantKeygatewayHTTPS && (len(cert.URIs) != 1 || cert.URIs[0].String() != keyapi.GatewayURI || cert.DNSNames[0] != sup) {
			t.Errorf("the gateway's certificate names %v %v, want %s and the gateway's mark", cert.DNSNames, cert.URIs, sup)
		}
	}
	_, err := c.NodeClient("master1").Call1(ctx, "", keyapi.GrantKeygateway, csr(t))
	wantStatus(t, err, http.StatusForbidden, "may not call")
}
