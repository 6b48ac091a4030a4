package sbom

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestSBOMOfARealBinary describes a real binary, cmd/sbom built as
// scripts/build builds every command, and checks the result against CycloneDX's published 1.6 JSON
// schema, as shipped in the cyclonedx-go module: it validates, names the
// modules linked in with their go.sum hashes, and is the same twice.
func TestSBOMOfARealBinary(t *testing.T) {
	// A test binary carries no module list; a built command does.
	bin := filepath.Join(t.TempDir(), "sbom")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "../../cmd/sbom")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	doc, err := ForBinary(bin)
	if err != nil {
		t.Fatal(err)
	}
	schema := cycloneDXSchema(t)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Errorf("the SBOM does not validate against CycloneDX 1.6: %v", err)
	}
	var bom struct {
		SerialNumber string `json:"serialNumber"`
		Metadata     struct {
			Component struct {
				Name   string
				Hashes []struct{ Alg, Content string }
			}
		}
		Components []struct {
			Name, Version, Purl string
			Properties          []struct{ Name, Value string }
		}
	}
	if err := json.Unmarshal(doc, &bom); err != nil {
		t.Fatal(err)
	}
	if bom.Metadata.Component.Name != filepath.Base(bin) || len(bom.Metadata.Component.Hashes) != 1 {
		t.Errorf("the binary itself: %+v", bom.Metadata.Component)
	}
	found := false
	for _, c := range bom.Components {
		if c.Name == "github.com/CycloneDX/cyclonedx-go" {
			found = c.Version == "v0.12.0" && c.Purl == "pkg:golang/github.com/cyclonedx/cyclonedx-go@v0.12.0" &&
				len(c.Properties) == 1 && strings.HasPrefix(c.Properties[0].Value, "h1:")
		}
	}
	if !found {
		t.Errorf("the SBOM does not name cyclonedx-go v0.12.0 with its go.sum hash:\n%s", doc)
	}
	again, _ := ForBinary(bin)
	if !bytes.Equal(doc, again) {
		t.Error("two SBOMs of the same binary differ")
	}
	if _, err := ForBinary("/bin/sh"); err == nil || !strings.Contains(err.Error(), "no Go build information") {
		t.Errorf("a binary that is not Go: %v", err)
	}
}

// cycloneDXSchema compiles the 1.6 schema from the module's own copy; it
// refers to two more schemas by URL, which are there too.
func cycloneDXSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go").Output()
	if err != nil {
		t.Fatalf("finding cyclonedx-go's folder: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "schema")
	c := jsonschema.NewCompiler()
	for url, file := range map[string]string{
		"http://cyclonedx.org/schema/bom-1.6.schema.json":  "bom-1.6.schema.json",
		"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
		"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schemax.json",
	} {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}
