package config

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const shippedSchema = "../../schema/setup.schema.json"

// compileSchema loads the shipped schema with an independent validator, as an
// editor would.
func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(shippedSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// asJSONValue converts YAML text to the generic value a JSON validator takes.
func asJSONValue(t *testing.T, text string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSchemaAgreesWithParser(t *testing.T) {
	s := compileSchema(t)
	for name, text := range map[string]string{"template": string(Template), "valid": validSetup, "minimal": minimalSetup} {
		if err := s.Validate(asJSONValue(t, text)); err != nil {
			t.Errorf("schema rejects the %s example: %v", name, err)
		}
	}
	for _, tc := range []struct{ name, old, new string }{
		{"unknown key", "vlan: 0", "vlna: 0"},
		{"vlan type", "vlan: 0", "vlan: ten"},
		{"vlan range", "vlan: 0", "vlan: 5000"},
		{"missing required", "  etcd-token: test-token\n", ""},
		{"bad kind", "kind: worker}\n  - {hostname: worker2", "kind: minion}\n  - {hostname: worker2"},
		{"bad hostname", "hostname: worker1,", "hostname: Worker_1,"},
		{"bad ip", "ip: 10.20.0.31", "ip: 10.20.0.310"},
	} {
		text := strings.Replace(validSetup, tc.old, tc.new, 1)
		if err := s.Validate(asJSONValue(t, text)); err == nil {
			t.Errorf("%s: schema accepts what spire rejects", tc.name)
		}
		if _, _, err := Parse("setup.yaml", []byte(text)); err == nil {
			t.Errorf("%s: spire accepts it", tc.name)
		}
	}
}
