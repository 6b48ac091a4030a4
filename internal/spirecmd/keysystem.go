package spirecmd

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/kerberos"
	"homeworld.dev/homeworld/internal/keyapi"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/virt"
	"homeworld.dev/homeworld/internal/workspace"
)

// keyserverFlags are shared by the commands that talk to the keyserver.
type keyserverFlags struct {
	keyserver  string
	gateway    string
	as         string
	breakGlass bool
}

func (f *keyserverFlags) register(c *cobra.Command) {
	c.PersistentFlags().StringVar(&f.keyserver, "keyserver", "", "keyserver address host:port (default: the supervisor's address from setup.yaml, port "+services.KeyserverAPI.PortString()+")")
	c.PersistentFlags().StringVar(&f.gateway, "gateway", "", "key gateway address host:port (default: the supervisor's address, port "+services.KeyGateway.PortString()+")")
	c.PersistentFlags().StringVar(&f.as, "as", "", "with --break-glass: root admin to act as (default: the only one in root-admins, or $USER)")
	c.PersistentFlags().BoolVar(&f.breakGlass, "break-glass", false, "act with the disaster key instead of your Kerberos ticket (audited as break-glass; for when the gateway or the KDC is down)")
}

// adminSession is what a command talking to the keyserver as an admin has.
type adminSession struct {
	ws    *workspace.Workspace
	cfg   *config.Config
	auths *authority.Set // public halves, or everything after the disaster key unsealed it
	admin *access.Admin
}

// connectAdmin connects as a root admin: through the key gateway with the
// operator's Kerberos ticket when the cluster has a realm, else (or with
// --break-glass) with the disaster key.
func (a *app) connectAdmin(f *keyserverFlags) (*adminSession, error) {
	ws, cfg, err := a.workspaceConfig()
	if err != nil {
		return nil, err
	}
	if f.breakGlass || cfg.Cluster.KerberosRealm == "" {
		return a.connectBreakGlass(f)
	}
	if f.as != "" {
		return nil, fmt.Errorf("--as applies to --break-glass only: through the gateway you act as the principal of your Kerberos ticket")
	}
	if err := virt.CheckReachable(ws.Dir, cfg, f.gateway); err != nil {
		return nil, err
	}
	auths, err := authority.NewStore(ws.Dir).LoadPublic()
	if err != nil {
		return nil, err
	}
	ca, err := auths.Get(keyapi.ClusterCA)
	if err != nil {
		return nil, err
	}
	ccache, err := kerberos.CCachePath(a.getenv)
	if err != nil {
		return nil, err
	}
	kc, err := kerberos.FromCCache(ccache, kerberos.ConfigPath(a.getenv), time.Now())
	if err != nil {
		return nil, fmt.Errorf("%w (or use --break-glass with the disaster key)", err)
	}
	admin, err := access.ConnectGateway(cfg, ca.Cert, kc, access.Options{Gateway: f.gateway})
	if err != nil {
		return nil, err
	}
	return &adminSession{ws: ws, cfg: cfg, auths: auths, admin: admin}, nil
}

// connectBreakGlass unseals the authorities with the disaster key and
// connects to the keyserver directly as a root admin; the keyserver audits
// every request of it as break-glass. Setting up the supervisor needs this
// path: the gateway does not run yet.
func (a *app) connectBreakGlass(f *keyserverFlags) (*adminSession, error) {
	ws, cfg, err := a.workspaceConfig()
	if err != nil {
		return nil, err
	}
	if err := virt.CheckReachable(ws.Dir, cfg, f.keyserver); err != nil {
		return nil, err
	}
	principal, err := access.ChoosePrincipal(cfg, f.as, a.getenv("USER"))
	if err != nil {
		return nil, err
	}
	key, err := a.disasterKey()
	if err != nil {
		return nil, err
	}
	auths, err := authority.NewStore(ws.Dir).Load(key)
	if err != nil {
		return nil, err
	}
	admin, err := access.ConnectDirect(cfg, auths, principal, access.Options{Keyserver: f.keyserver})
	if err != nil {
		return nil, err
	}
	return &adminSession{ws: ws, cfg: cfg, auths: auths, admin: admin}, nil
}

// withAuthority runs fn as a connected admin with the named authority's
// certificate.
func (a *app) withAuthority(f *keyserverFlags, name authority.Name, fn func(s *adminSession, ca *x509.Certificate) error) error {
	s, err := a.connectAdmin(f)
	if err != nil {
		return err
	}
	defer s.admin.Close()
	ca, err := s.auths.Get(name)
	if err != nil {
		return err
	}
	return fn(s, ca.Cert)
}
