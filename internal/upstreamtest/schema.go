package upstreamtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// schema is the part of an OpenAPI v3 schema Kubernetes' documents use.
type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	AdditionalProperties *schema            `json:"additionalProperties"`
	Items                *schema            `json:"items"`
	AllOf                []*schema          `json:"allOf"`
	OneOf                []*schema          `json:"oneOf"`
	Required             []string           `json:"required"`
	Enum                 []any              `json:"enum"`
	GVK                  []struct {
		Group, Version, Kind string
	} `json:"x-kubernetes-group-version-kind"`
}

// schemas is every named schema of the pinned Kubernetes' OpenAPI v3
// documents, and the top-level one of each group/version/kind.
type schemas struct {
	named map[string]*schema
	kinds map[string]*schema // "apps/v1 Deployment"
}

func loadSchemas(t testing.TB, src string) *schemas {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(src, "api", "openapi-spec", "v3", "*_openapi.json"))
	s := &schemas{named: map[string]*schema{}, kinds: map[string]*schema{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Components struct {
				Schemas map[string]*schema `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for name, sc := range doc.Components.Schemas {
			s.named[name] = sc
			for _, g := range sc.GVK {
				s.kinds[apiVersion(g.Group, g.Version)+" "+g.Kind] = sc
			}
		}
	}
	if len(s.kinds) == 0 {
		t.Fatalf("no OpenAPI v3 schemas under %s", src)
	}
	return s
}

func apiVersion(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}

// resolve follows references, and allOf with one member (how Kubernetes
// attaches a description or default to a reference).
func (s *schemas) resolve(sc *schema) *schema {
	for sc != nil {
		switch {
		case sc.Ref != "":
			sc = s.named[strings.TrimPrefix(sc.Ref, "#/components/schemas/")]
		case len(sc.AllOf) == 1 && sc.Type == "" && sc.Properties == nil:
			sc = sc.AllOf[0]
		default:
			return sc
		}
	}
	return nil
}

// check returns a message for each place v departs from sc: unknown
// fields, wrong types, missing required fields, values outside an enum.
func (s *schemas) check(v any, sc *schema, path string) []string {
	sc = s.resolve(sc)
	if sc == nil {
		return []string{path + ": no schema"}
	}
	if len(sc.OneOf) > 0 { // int-or-string, quantities
		for _, alt := range sc.OneOf {
			if len(s.check(v, alt, path)) == 0 {
				return nil
			}
		}
		return []string{fmt.Sprintf("%s: %v matches none of its types", path, v)}
	}
	if len(sc.Enum) > 0 && !slices.Contains(sc.Enum, v) {
		return []string{fmt.Sprintf("%s: %v is not one of %v", path, v, sc.Enum)}
	}
	var problems []string
	switch sc.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %v is not an object", path, v)}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch {
			case sc.Properties[k] != nil:
				problems = append(problems, s.check(m[k], sc.Properties[k], path+"."+k)...)
			case sc.AdditionalProperties != nil:
				problems = append(problems, s.check(m[k], sc.AdditionalProperties, path+"."+k)...)
			default:
				problems = append(problems, fmt.Sprintf("%s: unknown field %q", path, k))
			}
		}
		for _, r := range sc.Required {
			if _, ok := m[r]; !ok {
				problems = append(problems, fmt.Sprintf("%s: required field %q missing", path, r))
			}
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %v is not a list", path, v)}
		}
		for i, e := range l {
			problems = append(problems, s.check(e, sc.Items, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case "string":
		if _, ok := v.(string); !ok {
			problems = append(problems, fmt.Sprintf("%s: %v is not a string", path, v))
		}
	case "integer":
		if _, ok := v.(int); !ok {
			problems = append(problems, fmt.Sprintf("%s: %v is not an integer", path, v))
		}
	case "number":
		switch v.(type) {
		case int, float64:
		default:
			problems = append(problems, fmt.Sprintf("%s: %v is not a number", path, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			problems = append(problems, fmt.Sprintf("%s: %v is not true or false", path, v))
		}
	}
	return problems
}

// checkManifest decodes every document of manifest and checks it against
// its kind's schema.
func (s *schemas) checkManifest(manifest string) ([]string, error) {
	dec := yaml.NewDecoder(strings.NewReader(manifest))
	var problems []string
	for i := 0; ; i++ {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return problems, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if obj == nil {
			continue // only comments
		}
		kind := fmt.Sprintf("%v %v", obj["apiVersion"], obj["kind"])
		sc := s.kinds[kind]
		if sc == nil {
			problems = append(problems, fmt.Sprintf("document %d: no kind %q in this Kubernetes", i, kind))
			continue
		}
		name, _ := obj["metadata"].(map[string]any)
		problems = append(problems, s.check(obj, sc, fmt.Sprintf("%s %v", obj["kind"], name["name"]))...)
	}
}
