// Package schematest validates documents against the official JSON schemas
// kept in ../shared/schemas.
package schematest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Dir returns ../shared/schemas relative to the repository, or skips.
func Dir(t testing.TB) string {
	t.Helper()
	wd, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(d, "..", "shared", "schemas")
			if _, err := os.Stat(p); err == nil {
				return filepath.Clean(p)
			}
			break
		}
	}
	t.Skip("../shared/schemas not found")
	return ""
}

// Validate checks doc against the schema at rel (relative to the schemas
// directory, e.g. "cyclonedx/bom-1.6.schema.json"). Schemas referenced by
// relative URL are loaded from the same directory, never the network.
func Validate(t testing.TB, rel string, doc []byte) {
	t.Helper()
	dir := Dir(t)
	c := jsonschema.NewCompiler()
	main := filepath.Join(dir, rel)
	// Register every schema of the folder under its $id and its file URL,
	// so relative $refs resolve offline.
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(main), "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := c.AddResource("file://"+f, v); err != nil {
			t.Fatal(err)
		}
		if m, ok := v.(map[string]any); ok {
			if id, ok := m["$id"].(string); ok && id != "" {
				_ = c.AddResource(id, v)
				// Relative references resolve against the $id's folder.
				base := id[:strings.LastIndex(id, "/")+1]
				_ = c.AddResource(base+filepath.Base(f), v)
			}
		}
	}
	sch, err := c.Compile("file://" + main)
	if err != nil {
		t.Fatalf("compiling %s: %v", rel, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("document does not validate against %s:\n%v", rel, err)
	}
}
