package analyze_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/layerio"
)

// walkAndList walks a layer blob with every image analyzer and, from the
// same decompressed stream, lists its entries the way the overlay model
// reads them, straight from the tar.
func walkAndList(t *testing.T, blob string) (*analyze.LayerResult, []op) {
	t.Helper()
	f, err := os.Open(blob)
	if err != nil {
		t.Fatal(err)
	}
	s, err := layerio.Open(f, "", "", layerio.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pr, pw := io.Pipe()
	listed := make(chan []op, 1)
	listErr := make(chan error, 1)
	go func() {
		ops, err := rawOps(pr)
		_, _ = io.Copy(io.Discard, pr)
		listErr <- err
		listed <- ops
	}()
	w := &analyze.Walker{Analyzers: analyzers.For(analyze.ModeImage)}
	res, err := w.WalkTar(context.Background(), io.TeeReader(s, pw))
	if err == nil {
		_, err = io.Copy(pw, s)
	}
	pw.CloseWithError(err)
	if err != nil {
		t.Fatalf("%s: %v", blob, err)
	}
	if err := <-listErr; err != nil {
		t.Fatalf("%s: %v", blob, err)
	}
	return res, <-listed
}

func rawOps(r io.Reader) ([]op, error) {
	var ops []op
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return ops, nil
		}
		if err != nil {
			return nil, err
		}
		p := strings.TrimPrefix(path.Clean(h.Name), "./")
		if p == "." {
			continue
		}
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == ".wh..wh..opq":
			ops = append(ops, op{kind: "q", path: dir})
			continue
		case strings.HasPrefix(base, ".wh..wh."):
			continue
		case strings.HasPrefix(base, ".wh."):
			ops = append(ops, op{kind: "w", path: path.Join(dir, base[4:])})
			continue
		}
		o := op{path: p, link: h.Linkname}
		switch h.Typeflag {
		case tar.TypeReg:
			o.kind = "f"
		case tar.TypeDir:
			o.kind = "d"
		case tar.TypeSymlink:
			o.kind = "l"
		case tar.TypeLink:
			o.kind = "h"
		default:
			o.kind = "o"
		}
		ops = append(ops, o)
	}
}

// TestViewOnCorpus checks, on the real layers of the corpus images, the
// view's answers for every path against the overlay model applied to the
// raw tars; the deletions TRUTH.json records (the secrets a later layer of
// debian12-app deletes, the lock file an opaque directory of edge-layers
// hides, the file it deletes and writes again); and that pruning the
// indexes changes neither the inventory nor any answer about an analysed
// file.
func TestViewOnCorpus(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	for _, image := range []string{"debian12-app", "edge-layers"} {
		t.Run(image, func(t *testing.T) {
			var results []*analyze.LayerResult
			var model []modelLayer
			for i, blob := range analyzetest.Layers(t, image) {
				res, ops := walkAndList(t, blob)
				res.DiffID = fmt.Sprintf("sha256:%d", i)
				results = append(results, res)
				model = append(model, newModelLayer(ops))
			}
			v := analyze.NewView(results)
			if err := v.CheckLinks(); err != nil {
				t.Errorf("hard links: %v", err)
			}
			want := applyModel(model)
			paths := 0
			for i, m := range model {
				for p, typ := range m.final {
					paths++
					e, layer, ok := v.Stat(p)
					w, wok := want[p]
					if ok != wok || (ok && (e.Type != w.typ || layer != w.layer)) {
						t.Errorf("Stat(%q) = %v %d %v, want %+v %v", p, e, layer, ok, w, wok)
					}
					if typ == "l" && ok && w.layer == i && e.Link != m.link[p] {
						t.Errorf("%q links to %q, want %q", p, e.Link, m.link[p])
					}
					j, removed := v.RemovedBy(p, i)
					if wj := modelRemovedBy(model, p, i); j != wj || removed != (wj >= 0) {
						t.Errorf("RemovedBy(%q, %d) = %d %v, want %d", p, i, j, removed, wj)
					}
				}
			}
			t.Logf("%d layers, %d paths checked", len(model), paths)

			var tr struct {
				Secrets []struct {
					Path           string `json:"path"`
					Added          []int  `json:"added_in_layers"`
					Removed        []int  `json:"removed_in_layers"`
					PresentInFinal bool   `json:"present_in_final_fs"`
				} `json:"secrets"`
				BuildFacts struct {
					Final struct {
						Deleted []struct {
							Lockfile string `json:"lockfile"`
							Added    int    `json:"added_layer"`
							Removed  int    `json:"removed_by_opaque_whiteout_layer"`
						} `json:"npm_packages_only_in_deleted_layers"`
						OldSO string `json:"/opt/app/lib/old.so"`
					} `json:"expected_final_state"`
				} `json:"build_facts"`
			}
			b, err := os.ReadFile(filepath.Join(corpus, image, "TRUTH.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &tr); err != nil {
				t.Fatal(err)
			}
			checks := 0
			for _, s := range tr.Secrets {
				p := strings.TrimPrefix(s.Path, "/")
				for k, added := range s.Added {
					j, removed := v.RemovedBy(p, added)
					if k < len(s.Removed) {
						if !removed || j != s.Removed[k] {
							t.Errorf("secret %s added in layer %d: removed by %d %v, want %d", s.Path, added, j, removed, s.Removed[k])
						}
					} else if removed {
						t.Errorf("secret %s added in layer %d: removed by %d, want still present", s.Path, added, j)
					}
					checks++
				}
				if _, _, ok := v.Stat(p); ok != s.PresentInFinal {
					t.Errorf("secret %s in the final file system: %v, want %v", s.Path, ok, s.PresentInFinal)
				}
			}
			for _, d := range tr.BuildFacts.Final.Deleted {
				if j, removed := v.RemovedBy(strings.TrimPrefix(d.Lockfile, "/"), d.Added); !removed || j != d.Removed {
					t.Errorf("%s from layer %d: removed by %d %v, want %d", d.Lockfile, d.Added, j, removed, d.Removed)
				}
				checks++
			}
			if tr.BuildFacts.Final.OldSO != "" {
				// Written in layer 1, deleted by a whiteout in layer 2,
				// written again in layer 3 (the build facts and layer
				// commands say so).
				old := "opt/app/lib/old.so"
				if j, removed := v.RemovedBy(old, 1); !removed || j != 2 {
					t.Errorf("%s from layer 1: removed by %d %v, want 2", old, j, removed)
				}
				if j, removed := v.RemovedBy(old, 3); removed {
					t.Errorf("%s from layer 3: removed by %d, want present", old, j)
				}
				if _, layer, ok := v.Stat(old); !ok || layer != 3 {
					t.Errorf("%s: layer %d %v, want layer 3", old, layer, ok)
				}
				checks += 3
			}
			if checks == 0 {
				t.Error("TRUTH.json records no deletion to check")
			}
			checkPrune(t, image, results)
		})
	}
}

// checkPrune merges layer results whole and pruned: the inventories are
// the same, and the view answers the same for every file an analyzer
// reported on.
func checkPrune(t *testing.T, image string, full []*analyze.LayerResult) {
	var pruned []*analyze.LayerResult
	var layers []inventory.Layer
	for i, lr := range full {
		c := *lr
		pruned = append(pruned, &c)
		layers = append(layers, inventory.Layer{Index: i, DiffID: lr.DiffID})
	}
	analyze.Prune(pruned)
	before, after := 0, 0
	for i := range full {
		before += full[i].Index.Len()
		after += pruned[i].Index.Len()
	}
	t.Logf("%d paths indexed, %d after pruning", before, after)
	// edge-layers is mostly links, which stay; debian12-app is mostly
	// files no analyzer wants.
	if after >= before || (image == "debian12-app" && after*4 > before) {
		t.Errorf("pruning kept %d of %d paths", after, before)
	}
	mFull, mPruned := analyze.Merge(full, layers), analyze.Merge(pruned, layers)
	if diff := cmp.Diff(mFull.Inventory, mPruned.Inventory); diff != "" {
		t.Errorf("inventory (-whole +pruned):\n%s", diff)
	}
	asked := 0
	for i, lr := range full {
		for _, fr := range lr.Files {
			e1, l1, ok1 := mFull.View.Stat(fr.Path)
			e2, l2, ok2 := mPruned.View.Stat(fr.Path)
			if ok1 != ok2 || l1 != l2 || (ok1 && e1.Type != e2.Type) {
				t.Errorf("Stat(%q): whole %v %d %v, pruned %v %d %v", fr.Path, e1, l1, ok1, e2, l2, ok2)
			}
			j1, r1 := mFull.View.RemovedBy(fr.Path, i)
			j2, r2 := mPruned.View.RemovedBy(fr.Path, i)
			if j1 != j2 || r1 != r2 {
				t.Errorf("RemovedBy(%q, %d): whole %d %v, pruned %d %v", fr.Path, i, j1, r1, j2, r2)
			}
			asked++
		}
	}
	if asked == 0 || len(mFull.Inventory.Packages) == 0 {
		t.Errorf("%d analysed files, %d packages: nothing to compare", asked, len(mFull.Inventory.Packages))
	}
}
