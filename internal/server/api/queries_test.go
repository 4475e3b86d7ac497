package api

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestVersionRange(t *testing.T) {
	for _, tc := range []struct {
		typ, rng, version string
		want, bad         bool
	}{
		{typ: "golang", rng: ">=v0.3.0,<v0.3.8", version: "v0.3.5", want: true},
		{typ: "golang", rng: ">=v0.3.0,<v0.3.8", version: "v0.3.8"},
		{typ: "golang", rng: "v0.3.5", version: "v0.3.5", want: true},
		{typ: "golang", rng: "!=v0.3.5", version: "v0.3.5"},
		{typ: "deb", rng: "<3.0.11-1~deb12u3", version: "3.0.11-1~deb12u2", want: true},
		{typ: "deb", rng: ">1:1.0", version: "2.0", want: false},
		{typ: "pypi", rng: "<=2.28.1", version: "2.28.1", want: true},
		{typ: "golang", rng: "<", bad: true},
		{typ: "golang", rng: " , ", bad: true},
	} {
		vr, err := parseRange(tc.rng)
		if (err != nil) != tc.bad {
			t.Errorf("parseRange(%q): %v", tc.rng, err)
			continue
		}
		if tc.bad {
			continue
		}
		c, ok := comparerFor(tc.typ)
		if !ok {
			t.Fatalf("no comparer for %s", tc.typ)
		}
		if got := vr.holds(c, tc.version); got != tc.want {
			t.Errorf("%s %q holds for %s: %v, want %v", tc.typ, tc.rng, tc.version, got, tc.want)
		}
	}
}

// TestProblemCodesDocumented checks that every problem code the API can
// answer with is one the OpenAPI document allows.
func TestProblemCodesDocumented(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Code struct {
							Enum []string `json:"enum"`
						} `json:"code"`
					} `json:"properties"`
				} `json:"Problem"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	enum := doc.Components.Schemas.Problem.Properties.Code.Enum
	if len(enum) == 0 {
		t.Fatal("the document lists no problem codes")
	}
	for code := range titles {
		if !slices.Contains(enum, code) {
			t.Errorf("problem code %q is not in the OpenAPI document's enum", code)
		}
	}
}
