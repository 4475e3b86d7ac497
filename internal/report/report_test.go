package report_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
	"github.com/drydockscan/drydock/internal/testutil/schematest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// scanReport scans a corpus image and builds its report, with the target
// reference made relative so golden files do not depend on the checkout.
func scanReport(t *testing.T, image string) *report.Report {
	t.Helper()
	ctx := context.Background()
	target := filepath.Join(analyzetest.Corpus(t), image, "oci")
	img, err := source.Open(ctx, target, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	res, err := scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage)})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.Image.ConfigName()
	tgt := report.Target{
		Ref: "../shared/corpus/" + image + "/oci", Kind: string(img.Kind), Name: img.Name,
		ManifestDigest: img.ManifestDigest, ConfigDigest: cfg.String(), Platform: "linux/amd64",
		Created: img.Config.Created.UTC().Format("2006-01-02T15:04:05Z07:00"),
	}
	return report.New(report.Tool{Name: "drydock", Version: "test"}, tgt, &res.Inventory)
}

func render(t *testing.T, f report.Format, r *report.Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Write(&buf, r, report.Options{}); err != nil {
		t.Fatalf("%s: %v", f.Name, err)
	}
	return buf.Bytes()
}

var extension = map[string]string{"table": "txt", "json": "json", "cyclonedx": "cdx.json", "spdx-json": "spdx.json"}

func TestGolden(t *testing.T) {
	for _, image := range []string{"edge-layers", "debian12-app"} {
		r := scanReport(t, image)
		for _, f := range report.Formats() {
			t.Run(image+"/"+f.Name, func(t *testing.T) {
				got := render(t, f, r)
				golden := filepath.Join("testdata", "golden", image+"."+extension[f.Name])
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/report -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Errorf("%s differs from %s (-want +got):\n%s", f.Name, golden, diff)
				}
			})
		}
	}
}

func TestSchemas(t *testing.T) {
	schemas := map[string]string{
		"cyclonedx": "cyclonedx/bom-1.6.schema.json",
		"spdx-json": "spdx-2.3/spdx-schema.json",
	}
	for _, image := range []string{"edge-layers", "debian12-app"} {
		r := scanReport(t, image)
		for name, schema := range schemas {
			f, err := report.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			schematest.Validate(t, schema, render(t, f, r))
		}
	}
}

// TestDeterministic scans the same image twice: every format must give
// the same bytes.
func TestDeterministic(t *testing.T) {
	a, b := scanReport(t, "debian12-app"), scanReport(t, "debian12-app")
	for _, f := range report.Formats() {
		if !bytes.Equal(render(t, f, a), render(t, f, b)) {
			t.Errorf("%s: two scans of the same image differ", f.Name)
		}
	}
}
