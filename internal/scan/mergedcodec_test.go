package scan

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/source"
)

// corpusMerged is what the image entry of a corpus image's scan keeps.
func corpusMerged(t *testing.T, target string) *merged {
	t.Helper()
	ctx := context.Background()
	img, err := source.Open(ctx, filepath.Join(analyzetest.Corpus(t), target), source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	res, err := Image(ctx, img, Options{Analyzers: analyzers.For(analyze.ModeImage), DropFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	inv := res.Inventory
	inv.Layers = nil
	return &merged{Inventory: inv, Warnings: res.Warnings, Examined: res.Examined}
}

// TestMergedCodecRoundTrip: a corpus image's merge reads back as the
// same inventory JSON (what every report is made from), the same values,
// and every truncation of its encoding is refused.
func TestMergedCodecRoundTrip(t *testing.T) {
	for _, target := range []string{"debian12-app/oci", "debian13-slim/oci", "edge-layers/oci.tar", "multiarch-busybox/oci"} {
		t.Run(target, func(t *testing.T) {
			m := corpusMerged(t, target)
			if len(m.Inventory.Packages) == 0 {
				t.Fatal("no packages")
			}
			b, err := encodeMerged(m)
			if err != nil {
				t.Fatal(err)
			}
			var got merged
			if err := decodeMerged(b, &got); err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if have, _ := json.Marshal(&got); string(have) != string(want) {
				t.Errorf("JSON of the decoded merge differs:\n%s\nwant\n%s", have, want)
			}
			if diff := cmp.Diff(*m, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-scanned +decoded):\n%s", diff)
			}
			for i := 0; i < len(b); i += 1 + len(b)/64 {
				if decodeMerged(b[:i], &got) == nil {
					t.Fatalf("truncated at %d of %d decoded", i, len(b))
				}
			}
		})
	}
}

func TestMergedCodecEdges(t *testing.T) {
	layer := 0
	m := merged{
		Inventory: inventory.Inventory{
			OS: &inventory.OS{ID: "debian", IDLike: []string{"x"}},
			Packages: []inventory.Package{{
				Type: "npm", Name: "bad\xffname", Version: "1", LayerIndex: 3,
				Declared: true, InUse: true, Licenses: []string{"MIT"},
				Locations: []inventory.Location{{Path: "/a", LayerIndex: 0}, {Path: "/b", Layer: "sha256:x", LayerIndex: 2}},
				Meta:      map[string]string{"b": "2", "a": "1"},
			}, {Type: "deb", Name: "empty"}},
		},
		Warnings: []analyze.LayerFileError{{Layer: 1, LayerDiffID: "sha256:y"}},
		Examined: Examined{Secrets: []finding.Secret{{ID: "r", RemovedInLayerIndex: &layer}}},
	}
	b, err := encodeMerged(&m)
	if err != nil {
		t.Fatal(err)
	}
	var got merged
	if err := decodeMerged(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// A name that is not UTF-8 keeps its bytes, as the uncached scan has them.
	if got.Inventory.Packages[0].Name != "bad\xffname" {
		t.Errorf("name %q", got.Inventory.Packages[0].Name)
	}
	// A pointer to a zero layer index survives (gob would drop it).
	if s := got.Examined.Secrets[0]; s.RemovedInLayerIndex == nil || *s.RemovedInLayerIndex != 0 {
		t.Errorf("secret removed in layer %v", s.RemovedInLayerIndex)
	}
	// No package list and an empty one stay apart ("packages": null / []).
	for _, pkgs := range [][]inventory.Package{nil, {}} {
		b, err := encodeMerged(&merged{Inventory: inventory.Inventory{Packages: pkgs}})
		if err != nil {
			t.Fatal(err)
		}
		var got merged
		if err := decodeMerged(b, &got); err != nil {
			t.Fatal(err)
		}
		if (got.Inventory.Packages == nil) != (pkgs == nil) {
			t.Errorf("packages %#v decoded as %#v", pkgs, got.Inventory.Packages)
		}
	}
	// Another format, a count larger than the bytes left, trailing bytes.
	for name, bad := range map[string][]byte{
		"format":   append([]byte{2}, b[1:]...),
		"count":    append(append([]byte{}, b[:len(b)-1]...), 0xff, 0xff, 0xff, 0x7f),
		"trailing": append(append([]byte{}, b...), 0),
		"empty":    nil,
	} {
		if decodeMerged(bad, &got) == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func FuzzDecodeMerged(f *testing.F) {
	m := merged{Inventory: inventory.Inventory{Packages: []inventory.Package{{
		Type: "deb", Name: "n", Version: "1", Licenses: []string{"GPL"}, Files: []string{"/f"},
		Locations: []inventory.Location{{Path: "/p", Layer: "l", LayerIndex: 1}}, Meta: map[string]string{"k": "v"},
	}}}}
	b, err := encodeMerged(&m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var got merged
		if decodeMerged(data, &got) != nil {
			return
		}
		// What decodes re-encodes; from there on encoding and decoding
		// agree (the JSON part may be rewritten once).
		once, err := encodeMerged(&got)
		if err != nil {
			t.Fatal(err)
		}
		var got2 merged
		if err := decodeMerged(once, &got2); err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
		twice, err := encodeMerged(&got2)
		if err != nil || string(twice) != string(once) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}
