package config

import (
	"bytes"
	_ "embed"
	"encoding/json"

	"github.com/invopop/jsonschema"
	"go.yaml.in/yaml/v3"
)

// Template is the commented example written by `spire config populate`.
//
//go:embed template.yaml
var Template []byte

// SchemaID names the schema; editors only use it as an identifier.
const SchemaID = "https://homeworld.dev/schema/setup.schema.json"

// Schema returns the JSON Schema of setup.yaml, reflected from the Config
// types so the editor's view and spire's parser cannot drift apart. The
// semantic checks (ranges, duplicates, node counts) are spire's alone.
func Schema() ([]byte, error) {
	r := &jsonschema.Reflector{
		FieldNameTag:               "yaml",
		RequiredFromJSONSchemaTags: true,
		DoNotReference:             true,
		ExpandedStruct:             true,
	}
	s := r.Reflect(&Config{})
	s.ID = SchemaID
	s.Title = "Homeworld setup.yaml"
	s.Description = "Description of one Homeworld cluster."
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Marshal renders a config in normalized form: canonical key order, no
// comments, empty optional fields omitted.
func Marshal(c *Config) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
