package analyze_test

import (
	"path"
	"testing"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
)

// TestCanonicalDirAgreesWithResolve: the merge resolves directories parent
// first with a memo; every directory must come out as View.Resolve puts
// it (or stay itself where Resolve fails), in any order of asking.
func TestCanonicalDirAgreesWithResolve(t *testing.T) {
	crafted := []*analyze.LayerResult{
		{Entries: entries(dir("usr"), dir("usr/lib"), dir("usr/lib/x86_64-linux-gnu"), dir("usr/bin"),
			link("lib", "usr/lib"), link("bin", "/usr/bin"), link("usr/lib64", "lib"),
			dir("opt"), link("opt/up", "../usr/lib"), link("opt/chain", "up/x86_64-linux-gnu"),
			link("loop1", "loop2"), link("loop2", "loop1"), link("self", "./self"),
			link("abs", "/opt/chain"), dir("var"), link("var/run", "/run"), dir("run"))},
		{Entries: entries(dir("usr/lib/python3"), link("usr/lib/python3/dist", "../../../opt/up"))},
	}
	var corpus []*analyze.LayerResult
	for _, blob := range analyzetest.Layers(t, "debian12-app") {
		res, _ := walkAndList(t, blob)
		corpus = append(corpus, res)
	}
	tests := []struct {
		name   string
		layers []*analyze.LayerResult
	}{
		{"crafted links", crafted},
		{"debian12-app", corpus},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := analyze.NewView(tc.layers)
			seen := map[string]bool{}
			var dirs []string
			add := func(d string) {
				if !seen[d] {
					seen[d] = true
					dirs = append(dirs, d)
				}
			}
			for _, l := range tc.layers {
				for _, e := range l.Entries {
					add(e.Path)
					add(path.Dir(e.Path))
					add(e.Path + "/sub")
					add(e.Path + "/../x")
					add(e.Path + "//y")
				}
			}
			add("")
			// Deepest first and shallowest first: the memo must not
			// depend on the order.
			for _, order := range []string{"forward", "backward"} {
				memo := map[string]string{}
				for i := range dirs {
					d := dirs[i]
					if order == "backward" {
						d = dirs[len(dirs)-1-i]
					}
					want, err := v.Resolve(d)
					if err != nil {
						want = d
					}
					if got := analyze.CanonicalDir(v, d, memo); got != want {
						t.Errorf("%s: %q resolves to %q, want %q", order, d, got, want)
					}
				}
			}
			if len(dirs) < 10 {
				t.Fatalf("only %d directories asked", len(dirs))
			}
			t.Logf("%d directories", len(dirs))
		})
	}
}
