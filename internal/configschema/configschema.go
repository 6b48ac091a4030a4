// Package configschema generates the JSON Schema of setup.yaml from the
// config package's types, for editors. Only spire imports it: the schema
// generator stays out of the binaries that run on nodes.
package configschema

import (
	"encoding/json"

	"github.com/invopop/jsonschema"

	"homeworld.dev/homeworld/internal/config"
)

// Generate returns the JSON Schema of setup.yaml, reflected from the Config
// types so the editor's view and spire's parser cannot drift apart. The
// semantic checks (ranges, duplicates, node counts) are spire's alone.
func Generate() ([]byte, error) {
	r := &jsonschema.Reflector{
		FieldNameTag:               "yaml",
		RequiredFromJSONSchemaTags: true,
		DoNotReference:             true,
		ExpandedStruct:             true,
	}
	s := r.Reflect(&config.Config{})
	s.ID = config.SchemaID
	s.Title = "Homeworld setup.yaml"
	s.Description = "Description of one Homeworld cluster."
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
