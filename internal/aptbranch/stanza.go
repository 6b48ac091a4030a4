package aptbranch

import (
	"fmt"
	"strings"
)

// Field is one field of a control-file paragraph (deb822). Value is the
// first line, trimmed, then each continuation line as written (with its
// leading space), joined by newlines.
type Field struct {
	Name, Value string
}

// Stanza is one paragraph, in file order: a package's control file, an
// entry of a Packages index, a Release file.
type Stanza []Field

// Get returns the value of the named field ("" when absent). Field names
// are case-insensitive.
func (s Stanza) Get(name string) string {
	for _, f := range s {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Has reports whether the named field is present.
func (s Stanza) Has(name string) bool {
	for _, f := range s {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// String is the paragraph as written in a file, ending in a newline.
func (s Stanza) String() string {
	var b strings.Builder
	for _, f := range s {
		b.WriteString(f.Name)
		b.WriteByte(':')
		if f.Value != "" && f.Value[0] != '\n' {
			b.WriteByte(' ')
		}
		b.WriteString(f.Value)
		b.WriteByte('\n')
	}
	return b.String()
}

// parseStanzas reads the paragraphs of a deb822 file. Blank lines separate
// paragraphs; lines starting with '#' are comments.
func parseStanzas(text string) ([]Stanza, error) {
	var out []Stanza
	var cur Stanza
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, " \t\r")
		switch {
		case line == "":
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
		case line[0] == '#':
		case line[0] == ' ' || line[0] == '\t':
			if len(cur) == 0 {
				return nil, fmt.Errorf("line %d: continuation line with no field before it", n+1)
			}
			cur[len(cur)-1].Value += "\n" + line
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				return nil, fmt.Errorf("line %d: expected \"Field: value\", got %q", n+1, line)
			}
			if cur.Has(name) {
				return nil, fmt.Errorf("line %d: field %s appears twice", n+1, name)
			}
			cur = append(cur, Field{name, strings.TrimSpace(value)})
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}
