package config

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// MarshalJSON renders c as JSON with setup.yaml's own key names, in the
// same canonical order as Marshal (so `config show --json` and the YAML
// agree field for field, and the JSON Schema applies to both).
func MarshalJSON(c *Config) ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, &doc, ""); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, n *yaml.Node, indent string) error {
	inner := indent + "  "
	switch n.Kind {
	case yaml.DocumentNode:
		return writeJSON(buf, n.Content[0], indent)
	case yaml.MappingNode, yaml.SequenceNode:
		open, end, step := "{", "}", 2
		if n.Kind == yaml.SequenceNode {
			open, end, step = "[", "]", 1
		}
		if len(n.Content) == 0 {
			buf.WriteString(open + end)
			return nil
		}
		buf.WriteString(open + "\n")
		for i := 0; i < len(n.Content); i += step {
			if i > 0 {
				buf.WriteString(",\n")
			}
			buf.WriteString(inner)
			if step == 2 {
				key, _ := json.Marshal(n.Content[i].Value)
				buf.Write(key)
				buf.WriteString(": ")
			}
			if err := writeJSON(buf, n.Content[i+step-1], inner); err != nil {
				return err
			}
		}
		buf.WriteString("\n" + indent + end)
		return nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return err
		}
		out, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf.Write(out)
		return nil
	}
	return fmt.Errorf("config: cannot render YAML node kind %d as JSON", n.Kind)
}
