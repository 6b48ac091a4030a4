package spirecmd

import (
	"crypto/x509"

	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/services"
	"homeworld.dev/homeworld/internal/virt"
	"homeworld.dev/homeworld/internal/workspace"
)

// keyserverFlags are shared by the commands that talk to the keyserver.
type keyserverFlags struct {
	keyserver string
	as        string
}

func (f *keyserverFlags) register(c *cobra.Command) {
	c.PersistentFlags().StringVar(&f.keyserver, "keyserver", "", "keyserver address host:port (default: the supervisor's address from setup.yaml, port "+services.KeyserverAPI.PortString()+")")
	c.PersistentFlags().StringVar(&f.as, "as", "", "root admin to act as (default: the only one in root-admins, or $USER)")
}

// adminSession is what a command talking to the keyserver as an admin has.
type adminSession struct {
	ws    *workspace.Workspace
	cfg   *config.Config
	auths *authority.Set
	admin *access.Admin
}

// connectAdmin unseals the authorities with the disaster key and connects
// to the keyserver as a root admin.
func (a *app) connectAdmin(f *keyserverFlags) (*adminSession, error) {
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
