package config

import (
	"bytes"
	_ "embed"

	"go.yaml.in/yaml/v3"
)

// Template is the commented example written by `spire config populate`.
//
//go:embed template.yaml
var Template []byte

// SchemaID names the schema; editors only use it as an identifier.
const SchemaID = "https://homeworld.dev/schema/setup.schema.json"

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
