package secret

import (
	"slices"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
)

// AnalyzerName is the name the secret analyzer records its results under.
const AnalyzerName = "secret"

// RemovedBy answers which later layer removed or replaced what a layer
// wrote at a path (analyze.View.RemovedBy).
type RemovedBy func(p string, layer int) (int, bool)

// Findings turns the secret analyzer's results of every layer into
// findings: each secret is reported for the layer whose bytes hold it,
// with the later layer that deleted or replaced the file, if any. layers
// describe results (same index).
func Findings(results []*analyze.LayerResult, layers []inventory.Layer, removedBy RemovedBy) []finding.Secret {
	rules := map[string]Rule{}
	for _, r := range Rules() {
		rules[r.ID] = r
	}
	var out []finding.Secret
	for i, lr := range results {
		for _, fr := range lr.Files {
			if fr.Analyzer != AnalyzerName || len(fr.Secrets) == 0 {
				continue
			}
			var removed *int
			if j, ok := removedBy(fr.Path, i); ok {
				removed = &j
			}
			for _, h := range fr.Secrets {
				r := rules[h.Rule]
				s := finding.Secret{
					ID: h.Rule, Severity: r.Severity, Title: r.Title, Path: "/" + fr.Path, Line: h.Line,
					LayerIndex: i, RemovedInLayerIndex: removed, Match: h.Match, Fingerprint: h.Fingerprint,
				}
				if i < len(layers) {
					s.Layer = layers[i].DiffID
				}
				if s.Title == "" {
					s.Title, s.Severity = h.Rule, finding.Unknown
				}
				out = append(out, s)
			}
		}
	}
	slices.SortStableFunc(out, finding.CompareSecrets)
	return slices.CompactFunc(out, func(a, b finding.Secret) bool { return finding.CompareSecrets(a, b) == 0 })
}
