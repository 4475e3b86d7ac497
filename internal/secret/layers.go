package secret

import (
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
)

// AnalyzerName is the name the secret analyzer records its results under.
const AnalyzerName = "secret"

// Findings turns the secret analyzer's results of every layer into
// findings: each secret is reported for the layer whose bytes hold it,
// with the later layer that deleted or replaced the file, if any. layers
// describe results (same index).
func Findings(results []*analyze.LayerResult, layers []inventory.Layer) []finding.Secret {
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
			if j := RemovedIn(results, fr.Path, i); j >= 0 {
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

// RemovedIn returns the first layer after layer that deletes the file p
// (clean, relative to the root) — a whiteout of it or of a directory
// above it, an opaque directory above it — or replaces it with an entry
// of its own or of a directory above it; -1 when none does.
//
// It is written over the layer results alone, so it does not depend on
// how the final file system is represented.
func RemovedIn(results []*analyze.LayerResult, p string, layer int) int {
	for j := layer + 1; j < len(results); j++ {
		lr := results[j]
		for _, w := range lr.Whiteouts {
			if under(p, w) {
				return j
			}
		}
		for _, o := range lr.Opaques {
			if o == "" || strings.HasPrefix(p, o+"/") {
				return j
			}
		}
		for _, e := range lr.Entries {
			if e.Path == p || (e.Type != analyze.EntryDir && strings.HasPrefix(p, e.Path+"/")) {
				return j
			}
		}
	}
	return -1
}

// under reports whether p is dir or below it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}
