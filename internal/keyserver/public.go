package keyserver

import (
	"net/http"

	"golang.org/x/crypto/ssh"

	"homeworld.dev/homeworld/internal/authority"
	"homeworld.dev/homeworld/internal/pki"
)

// servePub answers GET /v1/pub/NAME with an authority's public half.
func (s *Server) servePub(w http.ResponseWriter, r *http.Request) {
	a, err := s.opts.Authorities.Get(authority.Name(r.PathValue("name")))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if a.Type == authority.SSH {
		w.Write(ssh.MarshalAuthorizedKey(a.SSHKey))
		return
	}
	w.Write(pki.EncodeCert(a.Cert))
}

// serveStatic answers GET /v1/static/NAME with a cluster-wide file.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	content, ok := s.opts.Policy.Static[name]
	if !ok {
		http.Error(w, "no static file named "+name+" (known: cluster.conf)", http.StatusNotFound)
		return
	}
	w.Write([]byte(content))
}
