package report_test

import (
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/report"
)

// TestCacheFields checks the JSON report's layer cache fields: documented
// in the schema when present, absent from a report without a cache, and
// absent from every other format's difference.
func TestCacheFields(t *testing.T) {
	r := findingsReport(t)
	if len(r.Target.Layers) == 0 {
		t.Fatal("the report has no layers")
	}
	o := options(t)
	plain := render(t, "json", r, o)
	if strings.Contains(string(plain), `"cached"`) || strings.Contains(string(plain), `"cache"`) {
		t.Fatal("a report without a cache has cache fields")
	}
	c := *r
	c.Target.Layers = append([]report.Layer(nil), r.Target.Layers...)
	c.Target.Layers[0].Cached = true
	sc := report.Scan{Started: "2026-01-01T00:00:00Z", Cache: &report.CacheStats{Hits: 1, Misses: len(r.Target.Layers) - 1}}
	c.Scan = &sc
	cached := render(t, "json", &c, o)
	for _, want := range []string{`"cached": true`, `"hits": 1`} {
		if !strings.Contains(string(cached), want) {
			t.Errorf("JSON report lacks %s", want)
		}
	}
	validate(t, "../../docs/json-report.schema.json", cached)
	for _, f := range []string{"sarif", "cyclonedx", "spdx-json", "csv", "junit", "gitlab", "table"} {
		p := *r
		p.Scan = &report.Scan{Started: sc.Started}
		if got, want := string(render(t, f, &c, o)), string(render(t, f, &p, o)); got != want {
			t.Errorf("%s report shows the layer cache's use", f)
		}
	}
}
