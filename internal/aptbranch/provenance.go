package aptbranch

import (
	"path"
	"path/filepath"

	"homeworld.dev/homeworld/internal/provenance"
)

// ProvenanceDir holds, per package, FILE.intoto.json and its detached
// signature FILE.intoto.json.asc by the branch key.
const ProvenanceDir = "provenance"

// writeProvenance writes and signs each package's statement into stage.
func writeProvenance(stage string, o Options, pkgs []*Package) error {
	for _, p := range pkgs {
		name := path.Base(p.Filename)
		st, err := provenance.Statement(provenance.Subject{Name: name, SHA256: p.deb.sha256},
			provenance.Source{Revision: o.Revision, Version: p.Version.String(), Built: o.Date})
		if err != nil {
			return err
		}
		sig, err := o.Signer.DetachSign(st, o.Date)
		if err != nil {
			return err
		}
		base := filepath.Join(stage, ProvenanceDir, name+".intoto.json")
		if err := writeFile(base, st); err != nil {
			return err
		}
		if err := writeFile(base+".asc", sig); err != nil {
			return err
		}
	}
	return nil
}
