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
	st := o.newState()
	out = st.vulnerabilities(fs)
	return out, st.finish()
}

// state is one application of the policy: the ignore entries in force and
// which of them matched, across every kind of finding.
type state struct {
	o        *Options
	vex      *vexIndex
	entries  []*IgnoreEntry
	used     []bool
	warnings []string
}

func (o *Options) newState() *state {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	st := &state{o: o, vex: newVEXIndex(o.VEX, o.ImageDigests)}
	st.warnings = append(st.warnings, st.vex.warnings...)
	if o.Ignore != nil {
		for i := range o.Ignore.Entries {
			e := &o.Ignore.Entries[i]
			if e.expired(now) {
				st.warnings = append(st.warnings, fmt.Sprintf("%s: expired ignore entry %d (line %d, %s, expired %s) no longer applied",
					o.Ignore.Source, i+1, e.Line, e.describe(), e.Expires))
				st.entries = append(st.entries, nil)
			} else {
				st.entries = append(st.entries, e)
			}
		}
		st.used = make([]bool, len(st.entries))
	}
	return st
}

// ignored returns the suppression of the first ignore entry matching, and
// marks every matching entry used.
func (st *state) ignored(match func(e *IgnoreEntry) bool) *finding.Suppression {
	var sup *finding.Suppression
	for i, e := range st.entries {
		if e == nil || !match(e) {
			continue
		}
		st.used[i] = true
		if sup == nil {
			sup = &finding.Suppression{
				Kind:          finding.SuppressedByIgnore,
				Justification: e.Reason,
				Source:        st.o.Ignore.Source,
				Expires:       e.Expires,
			}
		}
	}
	return sup
}

func (st *state) vulnerabilities(fs []finding.Finding) []finding.Finding {
	out := make([]finding.Finding, 0, len(fs))
	for _, f := range fs {
		shown := st.o.shows(&f)
		sup := st.vex.suppression(&f)
		if s := st.ignored(func(e *IgnoreEntry) bool { return e.matches(&f) }); sup == nil {
			sup = s
		}
		if !shown {
			continue
		}
		if f.Suppression == nil && sup != nil {
			f.Suppression = sup
		}
		out = append(out, f)
	}
	return out
}

// finish returns the warnings, with the entries that matched nothing.
func (st *state) finish() []string {
	for i, e := range st.entries {
		if e != nil && !st.used[i] {
			st.warnings = append(st.warnings, fmt.Sprintf("%s: ignore entry %d (line %d, %s) matched no finding",
				st.o.Ignore.Source, i+1, e.Line, e.describe()))
		}
	}
	return st.warnings
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
