package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileName is the name of the cluster description inside a workspace.
const FileName = "setup.yaml"

// Load reads and validates a setup.yaml file. It returns the config, any
// warnings, and a Problems error listing every error found.
func Load(path string) (*Config, Problems, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s does not exist (create one with `spire config populate`)", path)
		}
		return nil, nil, err
	}
	return Parse(path, data)
}

// Parse decodes and validates setup.yaml content; file names the source in
// messages. On error the returned Problems lists everything wrong.
func Parse(file string, data []byte) (*Config, Problems, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, Problems{syntaxProblem(file, err)}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil, Problems{{File: file, Message: "file is empty; expected the cluster description (see `spire config populate`)"}}
	}
	d := &decoder{file: file, where: map[string]pos{}}
	var cfg Config
	d.decode(doc.Content[0], reflect.ValueOf(&cfg).Elem(), "")
	if len(d.problems) > 0 {
		// Semantic checks on a half-decoded file would only repeat the type
		// errors in other words.
		sortProblems(d.problems)
		return nil, nil, d.problems
	}
	v := &validator{file: file, where: d.where}
	v.check(&cfg)
	sortProblems(v.errors)
	sortProblems(v.warnings)
	if len(v.errors) > 0 {
		return nil, v.warnings, v.errors
	}
	return &cfg, v.warnings, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns the YAML library's message into a located Problem.
func syntaxProblem(file string, err error) Problem {
	p := Problem{File: file, Message: "invalid YAML: " + err.Error()}
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Column = 1
		p.Message = "invalid YAML: " + m[2]
		// For unclosed flow collections the library reports the 0-based line
		// of the opening bracket.
		if strings.HasPrefix(m[2], "did not find expected") {
			p.Line++
		}
	}
	return p
}
