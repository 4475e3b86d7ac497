package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/report"
)

// TestHTMLLayers: the layers section shows every layer, the metrics and
// the wasted paths, escapes what the image says about itself, and is
// absent without layer statistics.
func TestHTMLLayers(t *testing.T) {
	r := &report.Report{SchemaVersion: report.SchemaVersion, Target: report.Target{Ref: "x"}}
	var without bytes.Buffer
	if err := report.WriteHTML(&without, r, report.Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(without.String(), `id="layers"`) {
		t.Error("a report without layer statistics has a layers section")
	}
	frac := 0.353118
	r.LayerStats = &report.LayerStats{
		Efficiency: 0.991588, WastedBytes: 24053, UserWastedPercent: &frac, SizeBytes: 2600000, WastedPaths: 9,
		Layers: []report.LayerStat{
			{Index: 0, DiffID: "sha256:aa", CreatedBy: "COPY rootfs/ /", Size: 2500000, Added: 126},
			{Index: 1, DiffID: "sha256:bb", CreatedBy: `RUN echo "<script>alert(1)</script>"`, Size: 10, Added: 3, Removed: 17},
		},
		Wasted: []report.WastedPath{{Path: "/etc/<b>services</b>", Count: 2, Bytes: 12000}},
	}
	var with bytes.Buffer
	if err := report.WriteHTML(&with, r, report.Options{}); err != nil {
		t.Fatal(err)
	}
	page := with.String()
	i := strings.Index(page, `id="layers"`)
	if i < 0 {
		t.Fatal("no layers section")
	}
	sec := page[i:]
	sec = sec[:strings.Index(sec, "</section>")]
	for _, want := range []string{"99.16 %", "35.31 %", "in 9 paths", "COPY rootfs/ /", "&lt;script&gt;alert(1)&lt;/script&gt;", "/etc/&lt;b&gt;services&lt;/b&gt;", ">126<", ">17<"} {
		if !strings.Contains(sec, want) {
			t.Errorf("layers section lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert(1)") || strings.Contains(page, "<b>services") {
		t.Error("image text reached the page unescaped")
	}
	if n := strings.Count(sec, `<rect class="fill"`); n != 2 {
		t.Errorf("%d size bars, want one per layer", n)
	}
	// Undefined user wasted fraction.
	r.LayerStats.UserWastedPercent = nil
	with.Reset()
	if err := report.WriteHTML(&with, r, report.Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(with.String(), "<dd>∞ of the bytes") {
		t.Error("an undefined user wasted fraction is not shown as ∞")
	}
}
