package kerberos

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Client holds a principal's Kerberos credentials and makes Negotiate
// headers for services.
type Client struct {
	Principal string // name@REALM
	kc        *client.Client
}

// CCachePath is where MIT's tools keep the user's tickets: $KRB5CCNAME
// (FILE: caches only), else /tmp/krb5cc_<uid>.
func CCachePath(getenv func(string) string) (string, error) {
	name := getenv("KRB5CCNAME")
	if name == "" {
		return "/tmp/krb5cc_" + strconv.Itoa(os.Getuid()), nil
	}
	kind, rest, found := strings.Cut(name, ":")
	switch {
	case !found || strings.HasPrefix(name, "/"):
		return name, nil
	case kind == "FILE":
		return rest, nil
	}
	return "", fmt.Errorf("KRB5CCNAME=%s: only FILE: ticket caches can be read; run `export KRB5CCNAME=FILE:/tmp/krb5cc_$(id -u)` and kinit again", name)
}

// ConfigPath is the krb5.conf MIT's tools read: $KRB5_CONFIG, else /etc/krb5.conf.
func ConfigPath(getenv func(string) string) string {
	if p := getenv("KRB5_CONFIG"); p != "" {
		return strings.Split(p, ":")[0]
	}
	return "/etc/krb5.conf"
}

func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("reading Kerberos configuration %s: %v (set KRB5_CONFIG to your realm's krb5.conf)", path, err)
	}
	return cfg, nil
}

// FromCCache loads the tickets kinit left in the cache at path.
func FromCCache(path, configPath string, now time.Time) (*Client, error) {
	cc, err := credentials.LoadCCache(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no Kerberos tickets (no ticket cache at %s): run kinit", path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the ticket cache %s: %v", path, err)
	}
	principal := cc.DefaultPrincipal.PrincipalName.PrincipalNameString() + "@" + cc.DefaultPrincipal.Realm
	tgt, ok := cc.GetEntry(types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", cc.DefaultPrincipal.Realm}})
	if !ok {
		return nil, fmt.Errorf("the ticket cache %s holds no ticket-granting ticket for %s: run kinit", path, principal)
	}
	if !now.Before(tgt.EndTime) {
		return nil, fmt.Errorf("the Kerberos ticket of %s expired at %s: run kinit", principal, tgt.EndTime.Local().Format(time.RFC1123))
	}
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	kc, err := client.NewFromCCache(cc, cfg, client.DisablePAFXFAST(true))
	if err != nil {
		return nil, fmt.Errorf("using the ticket cache %s: %v", path, err)
	}
	return &Client{Principal: principal, kc: kc}, nil
}

// FromKeytab logs in as principal (name@REALM) with its key from a keytab,
// as a service checking itself does (kinit -k).
func FromKeytab(keytabPath, principal, configPath string) (*Client, error) {
	data, err := os.ReadFile(keytabPath)
	if err != nil {
		return nil, fmt.Errorf("keytab: %w", err)
	}
	kt := keytab.New()
	if err := kt.Unmarshal(data); err != nil {
		return nil, fmt.Errorf("keytab %s: %v", keytabPath, err)
	}
	name, realm, ok := strings.Cut(principal, "@")
	if !ok {
		return nil, fmt.Errorf("principal %q has no realm", principal)
	}
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	kc := client.NewWithKeytab(name, realm, kt, cfg, client.DisablePAFXFAST(true))
	if err := kc.Login(); err != nil {
		return nil, fmt.Errorf("kerberos login as %s with %s: %v", principal, keytabPath, err)
	}
	return &Client{Principal: principal, kc: kc}, nil
}

// Negotiate returns an Authorization header value for service (e.g.
// "HTTP/supervisor.example.org"), obtaining a service ticket from the KDC
// when the cache has none. Each call makes a fresh authenticator.
func (c *Client) Negotiate(service string) (string, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://unused/", nil)
	if err := spnego.SetSPNEGOHeader(c.kc, req, service); err != nil {
		return "", fmt.Errorf("kerberos: a ticket for %s as %s: %v", service, c.Principal, err)
	}
	return req.Header.Get("Authorization"), nil
}

// Authorize is a request hook (keyapi.ClientConfig.Authorize) that adds a
// Negotiate header for service.
func (c *Client) Authorize(service string) func(*http.Request) error {
	return func(r *http.Request) error {
		h, err := c.Negotiate(service)
		if err != nil {
			return err
		}
		r.Header.Set("Authorization", h)
		return nil
	}
}

// Destroy forgets the client's keys (a keytab client's TGT).
func (c *Client) Destroy() { c.kc.Destroy() }
