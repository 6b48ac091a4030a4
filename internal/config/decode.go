package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// pos is where a value sits in the source file.
type pos struct{ line, col int }

// decoder fills Go values from a YAML node tree, strictly: unknown keys, wrong
// types and missing required keys are all reported, and decoding carries on so
// one run shows every problem. It remembers where each field was found so the
// semantic checks can point at the right line too.
type decoder struct {
	file     string
	where    map[string]pos
	problems Problems
}

func (d *decoder) addf(n *yaml.Node, field, format string, args ...any) {
	p := Problem{File: d.file, Field: field, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.where[path] = pos{n.Line, n.Column}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		// Refused rather than read as "use the default": the schema, which
		// editors check against, has no null for any field, and a key whose
		// value was deleted is more likely a slip than a wish.
		d.addf(n, path, "has no value: give it one, or leave the key out if it is optional")
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.addf(n, path, "must be a list, not %s", describe(n))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content)))
		for i, item := range n.Content {
			d.decode(item, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			hint := ""
			if n.Kind == yaml.ScalarNode {
				hint = fmt.Sprintf(" (quote it if you mean the text: \"%s\")", n.Value)
			}
			d.addf(n, path, "must be a string, not %s%s", describe(n), hint)
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.addf(n, path, "must be an integer, not %s", describe(n))
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			d.addf(n, path, "integer %s out of range", n.Value)
			return
		}
		v.SetInt(i)
	default:
		panic("config: no decoder for " + v.Type().String())
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addf(n, path, "must be a mapping of keys to values, not %s", describe(n))
		return
	}
	fields := map[string]int{}
	var names []string
	for i := 0; i < v.NumField(); i++ {
		name := yamlName(v.Type().Field(i))
		fields[name] = i
		names = append(names, name)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if d.duplicateKey(k, path) {
			continue
		}
		idx, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if s := nearest(k.Value, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += fmt.Sprintf(" (allowed: %s)", strings.Join(names, ", "))
			}
			d.addf(k, join(path, k.Value), "%s", msg)
			continue
		}
		seen[k.Value] = true
		d.decode(val, v.Field(idx), join(path, k.Value))
	}
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if name := yamlName(f); isRequired(f) && !seen[name] {
			d.addf(n, join(path, name), "missing required key %q", name)
		}
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addf(n, path, "must be a mapping, not %s", describe(n))
		return
	}
	v.Set(reflect.MakeMap(v.Type()))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		field := join(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.addf(k, path, "keys must be plain text, not %s", describe(k))
			continue
		}
		if d.duplicateKey(k, path) {
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, field)
		v.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
}

// duplicateKey reports (and records as a problem) a key that appeared earlier
// in the same mapping; the YAML library only catches these when decoding into
// Go values, not into a node tree.
func (d *decoder) duplicateKey(k *yaml.Node, path string) bool {
	field := join(path, k.Value)
	if first, ok := d.where["key:"+field]; ok {
		d.addf(k, field, "key %q is already defined at line %d", k.Value, first.line)
		return true
	}
	d.where["key:"+field] = pos{k.Line, k.Column}
	return false
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func isRequired(f reflect.StructField) bool {
	for _, opt := range strings.Split(f.Tag.Get("jsonschema"), ",") {
		if opt == "required" {
			return true
		}
	}
	return false
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int":
		return "the integer " + n.Value
	case "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	case "!!str":
		return strconv.Quote(n.Value)
	}
	return n.ShortTag() + " " + n.Value
}

// nearest returns the candidate closest to s by edit distance, if it is close
// enough to be a likely typo.
func nearest(s string, candidates []string) string {
	best, bestDist := "", 3
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	for _, c := range sorted {
		if dist := editDistance(s, c); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
