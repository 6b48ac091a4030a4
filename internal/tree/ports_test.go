package tree

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"homeworld.dev/homeworld/internal/services"
)

// mapFile is where the cluster's port numbers are written.
const mapFile = "internal/services/endpoints.go"

// portFinder finds ports of the service map written as literals. In
// strings it looks for "host:PORT" and "port PORT"; as a bare number it
// flags only ports above 1023, since 22 or 443 as a number is more often
// something else (a length, a count).
type portFinder struct {
	inString *regexp.Regexp
	high     map[string]bool
}

func newPortFinder() portFinder {
	f := portFinder{high: map[string]bool{}}
	var alts []string
	for _, e := range services.Endpoints() {
		p := strconv.Itoa(e.Port)
		alts = append(alts, p)
		if e.Port > 1023 {
			f.high[p] = true
		}
	}
	f.inString = regexp.MustCompile(`(?i)(:|port )(` + strings.Join(alts, "|") + `)\b`)
	return f
}

// find returns "line: port (literal)" for each port literal in src.
func (f portFinder) find(path string, src any) ([]string, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var out []string
	ast.Inspect(file, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok {
			return true
		}
		var port string
		switch lit.Kind {
		case token.INT:
			if f.high[lit.Value] {
				port = lit.Value
			}
		case token.STRING:
			if m := f.inString.FindStringSubmatch(lit.Value); m != nil {
				port = m[2]
			}
		}
		if port != "" {
			out = append(out, fmt.Sprintf("%d: port %s (%s)", fset.Position(lit.Pos()).Line, port, lit.Value))
		}
		return true
	})
	return out, nil
}

// TestNoPortLiteralOutsideTheMap fails when a port of the service map is
// written as a literal anywhere else in Go code, tests and e2e included:
// a copy would drift from the map unnoticed.
func TestNoPortLiteralOutsideTheMap(t *testing.T) {
	f := newPortFinder()
	for _, path := range goFiles(t, true) {
		rel := strings.TrimPrefix(filepath.ToSlash(path), "../../")
		if rel == mapFile {
			continue
		}
		found, err := f.find(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range found {
			t.Errorf("%s:%s: use the endpoint in %s instead", rel, s, mapFile)
		}
	}
}

// TestPortFinderSeesCommonForms keeps the check above honest.
func TestPortFinderSeesCommonForms(t *testing.T) {
	p, low := services.KubeState.Port, services.SSH.Port
	src := fmt.Sprintf(`package x
var a = "127.0.0.1:%[1]d"
var b = "http://10.0.0.1:%[1]d/metrics"
var c = "(default: port %[1]d)"
var d = %[1]d
var e = "host:%[2]d"
var ok1 = %[2]d
var ok2 = "10.0.0.%[2]d"
var ok3 = "%[2]d characters"
`, p, low)
	found, err := newPortFinder().find("x.go", src)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, s := range found {
		lines = append(lines, strings.SplitN(s, ":", 2)[0])
	}
	if want := []string{"2", "3", "4", "5", "6"}; !slices.Equal(lines, want) {
		t.Errorf("found on lines %v, want %v: %v", lines, want, found)
	}
}
