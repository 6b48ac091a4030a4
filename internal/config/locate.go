package config

import (
	"reflect"

	"go.yaml.in/yaml/v3"
)

// ProblemAt builds a Problem about field of setup.yaml's text data, located
// as Parse locates its own: at the field, or at its closest present parent
// when the field is absent. Commands that need more than validation demands
// (an optional field they cannot do without) use it so their refusals point
// at the file the same way. Text that does not decode yields no line.
func ProblemAt(file string, data []byte, field, format string, args ...any) Problem {
	v := &validator{file: file, where: map[string]pos{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil && len(doc.Content) > 0 {
		d := &decoder{file: file, where: v.where}
		var cfg Config
		d.decode(doc.Content[0], reflect.ValueOf(&cfg).Elem(), "")
	}
	return v.problem(field, format, args...)
}
