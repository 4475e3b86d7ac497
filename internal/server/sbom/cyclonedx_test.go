package sbom_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server/sbom"
)

// TestFromCycloneDXRoundTrip: the CycloneDX SBOM drydock writes of an
// image reads back into the packages of the image's inventory (what
// matching uses: type, name, version, source package, purl, path, layer,
// owner).
func TestFromCycloneDXRoundTrip(t *testing.T) {
	img := filepath.Join(analyzetest.Corpus(t), "debian12-app", "oci")
	rep, err := pipeline.Run(context.Background(), pipeline.Request{Target: img, Started: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := report.WriteCycloneDX(&buf, rep, report.Options{}); err != nil {
		t.Fatal(err)
	}
	target, inv, err := sbom.FromCycloneDX(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if target.ManifestDigest != rep.Target.ManifestDigest {
		t.Errorf("digest %q, want %q", target.ManifestDigest, rep.Target.ManifestDigest)
	}
	if inv.OS == nil || inv.OS.ID != rep.OS.ID || inv.OS.VersionID != rep.OS.VersionID {
		t.Errorf("OS %+v, want %+v", inv.OS, rep.OS)
	}
	key := func(ps []inventory.Package) []inventory.Package {
		out := make([]inventory.Package, len(ps))
		for i, p := range ps {
			out[i] = inventory.Package{Type: p.Type, Name: p.Name, Version: p.Version, SourceName: p.SourceName, PURL: p.PURL, Path: p.Path, Layer: p.Layer, LayerIndex: p.LayerIndex, OwnedBy: p.OwnedBy}
		}
		slices.SortStableFunc(out, inventory.ComparePackages)
		return out
	}
	if d := cmp.Diff(key(rep.Packages), key(inv.Packages)); d != "" {
		t.Errorf("packages read back differ (-written +read):\n%s", d)
	}
}

func FuzzFromCycloneDX(f *testing.F) {
	f.Add([]byte(`{"bomFormat":"CycloneDX","components":[{"type":"library","name":"x","purl":"pkg:npm/%40a/x@1.0.0","components":[{"purl":"pkg:rpm/fedora/y@1?epoch=2"}]}]}`))
	f.Add([]byte(`{"bomFormat":"CycloneDX","metadata":{"component":{"name":"app","version":"sha256:00"}},"components":[{"type":"operating-system","name":"debian","version":"12"}]}`))
	f.Add([]byte(`{"bomFormat":"CycloneDX","components":[{"purl":"pkg:"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, inv, err := sbom.FromCycloneDX(data)
		if err == nil && inv == nil {
			t.Fatal("no error and no inventory")
		}
	})
}
