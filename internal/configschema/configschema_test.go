package configschema

import (
	"bytes"
	"os"
	"testing"
)

const shippedSchema = "../../schema/setup.schema.json"

func TestShippedSchemaIsCurrent(t *testing.T) {
	want, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(shippedSchema)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale; run `go generate ./internal/config`", shippedSchema)
	}
}
