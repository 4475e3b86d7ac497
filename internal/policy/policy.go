// Package policy decides which findings are shown and which count: the
// severity filter and --ignore-unfixed remove findings from the list, while
// ignore-file entries and VEX statements only mark findings as suppressed,
// so they stay in machine-readable reports (JSON, SARIF, CycloneDX) and
// never fail the gate.
package policy

import (
	"fmt"
	"slices"
	"time"

	"github.com/drydockscan/drydock/internal/finding"
)

// Options are the policy inputs of one scan.
type Options struct {
	// Severities lists the severities to show (--severity); nil or empty
	// shows all.
	Severities []finding.Severity
	// IgnoreUnfixed drops findings without a published fix (status
	// unfixed or will-not-fix).
	IgnoreUnfixed bool
	// Ignore is the parsed ignore file, if any.
	Ignore *IgnoreFile
	// VEX are the parsed VEX documents.
	VEX []*VEX
	// Now decides whether ignore entries have expired; the zero time means
	// the current time.
	Now time.Time
	// ImageDigests identify the scanned image (manifest, index and config
	// digests, "sha256:…"). When set, a VEX product naming an image
	// (pkg:oci/…@sha256:…) applies only if its digest is one of these;
	// when empty, every image product applies.
	ImageDigests []string
}

// Apply returns the findings to show, in the order given, with
// Suppression set on those an ignore entry or a VEX statement covers, and
// the warnings the user should see (expired ignore entries, entries that
// matched nothing, VEX statements that cannot apply). The input slice and
// its findings are not modified.
//
// A finding that both a VEX statement and an ignore entry cover is marked
// as suppressed by VEX. A finding that already carries a Suppression keeps
// it.
func Apply(fs []finding.Finding, o Options) (out []finding.Finding, warnings []string) {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	vex := newVEXIndex(o.VEX, o.ImageDigests)
	warnings = append(warnings, vex.warnings...)

	var entries []*IgnoreEntry
	var used []bool
	if o.Ignore != nil {
		for i := range o.Ignore.Entries {
			e := &o.Ignore.Entries[i]
			if e.expired(now) {
				warnings = append(warnings, fmt.Sprintf("%s: expired ignore entry %d (line %d, %s, expired %s) no longer applied",
					o.Ignore.Source, i+1, e.Line, e.describe(), e.Expires))
				entries = append(entries, nil)
			} else {
				entries = append(entries, e)
			}
		}
		used = make([]bool, len(entries))
	}

	out = make([]finding.Finding, 0, len(fs))
	for _, f := range fs {
		shown := o.shows(&f)
		var sup *finding.Suppression
		if s := vex.suppression(&f); s != nil {
			sup = s
		}
		for i, e := range entries {
			if e == nil || !e.matches(&f) {
				continue
			}
			used[i] = true
			if sup == nil {
				sup = &finding.Suppression{
					Kind:          finding.SuppressedByIgnore,
					Justification: e.Reason,
					Source:        o.Ignore.Source,
					Expires:       e.Expires,
				}
			}
		}
		if !shown {
			continue
		}
		if f.Suppression == nil && sup != nil {
			f.Suppression = sup
		}
		out = append(out, f)
	}
	for i, e := range entries {
		if e != nil && !used[i] {
			warnings = append(warnings, fmt.Sprintf("%s: ignore entry %d (line %d, %s) matched no finding",
				o.Ignore.Source, i+1, e.Line, e.describe()))
		}
	}
	return out, warnings
}

// shows reports whether the severity filter and --ignore-unfixed keep f.
func (o *Options) shows(f *finding.Finding) bool {
	if len(o.Severities) > 0 && !slices.Contains(o.Severities, f.Severity) {
		return false
	}
	if o.IgnoreUnfixed && (f.Status == finding.StatusUnfixed || f.Status == finding.StatusWillNotFix) {
		return false
	}
	return true
}
