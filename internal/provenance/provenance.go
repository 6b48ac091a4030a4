// Package provenance writes an in-toto Statement (v1) with a SLSA
// provenance (v1) predicate for each package of an apt branch: what the
// package file is (its name and SHA-256), what it was built from (the
// source revision) and by what. The branch build signs each statement with
// the branch key, detached, so gpgv with the branch's keyring verifies it
// as apt verifies the branch itself.
package provenance

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// BuildType names how Homeworld's packages are built.
const BuildType = "https://homeworld.dev/debpkg/v1"

// Builder names what builds them.
const Builder = "https://homeworld.dev/scripts/packages"

// Subject is one package file.
type Subject struct {
	Name   string // its file name in the branch
	SHA256 string // hex
}

// Source is what the packages were built from.
type Source struct {
	Revision string    // e.g. a git commit
	Version  string    // the packages' version
	Built    time.Time // the build's epoch (SOURCE_DATE_EPOCH)
}

// Statement returns s's statement as JSON with sorted keys and stable
// spacing, so the same inputs give the same bytes (protojson alone varies
// its whitespace on purpose).
func Statement(s Subject, src Source) ([]byte, error) {
	if s.Name == "" || len(s.SHA256) != 64 {
		return nil, fmt.Errorf("provenance of %q: a name and a SHA-256 are required", s.Name)
	}
	if !IsCommit(src.Revision) {
		return nil, fmt.Errorf("source revision %q is not a git commit (40 or 64 hex digits)", src.Revision)
	}
	params, err := structpb.NewStruct(map[string]any{"revision": src.Revision, "version": src.Version})
	if err != nil {
		return nil, err
	}
	pred := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:          BuildType,
			ExternalParameters: params,
			ResolvedDependencies: []*intoto.ResourceDescriptor{{
				Name: "homeworld", Digest: map[string]string{"gitCommit": src.Revision},
			}},
		},
		RunDetails: &slsa.RunDetails{
			Builder:  &slsa.Builder{Id: Builder},
			Metadata: &slsa.BuildMetadata{FinishedOn: timestamppb.New(src.Built.UTC())},
		},
	}
	if err := pred.Validate(); err != nil {
		return nil, fmt.Errorf("provenance of %s: %w", s.Name, err)
	}
	predJSON, err := protojson.Marshal(pred)
	if err != nil {
		return nil, err
	}
	predStruct := &structpb.Struct{}
	if err := protojson.Unmarshal(predJSON, predStruct); err != nil {
		return nil, err
	}
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       []*intoto.ResourceDescriptor{{Name: s.Name, Digest: map[string]string{"sha256": s.SHA256}}},
		PredicateType: "https://slsa.dev/provenance/v1",
		Predicate:     predStruct,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("provenance of %s: %w", s.Name, err)
	}
	raw, err := protojson.Marshal(st)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// IsCommit reports whether rev is a full git commit id (SHA-1 or SHA-256).
func IsCommit(rev string) bool {
	if len(rev) != 40 && len(rev) != 64 {
		return false
	}
	_, err := hex.DecodeString(rev)
	return err == nil
}
