package match

import (
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/version"
	"github.com/drydockscan/drydock/internal/vulndb"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// hit is a candidate that affects a target's version.
type hit struct {
	cand *store.Candidate
	// status is the finding status this entry gives.
	status string
	// fixed is the version that ends the affected interval the target's
	// version lies in, per affected range ("" ranges give none).
	fixed []string
}

// check decides whether candidate c affects the target's version.
func (m *matcher) check(t *target, c *store.Candidate) (hit, bool) {
	a := &c.Affected
	h := hit{cand: c}
	switch a.Status {
	case vulndb.StatusNotAffected:
		return h, false
	case vulndb.StatusUnfixed, vulndb.StatusWillNotFix, vulndb.StatusEndOfLife:
		// The distribution says the release's package is affected;
		// ranges, when given, still bound the versions.
		if hasOrderedRanges(a) || len(a.Versions) > 0 {
			ok, fixed := m.inRanges(t, c)
			if !ok {
				return h, false
			}
			h.fixed = fixed
		}
		h.status = finding.StatusUnfixed
		if a.Status != vulndb.StatusUnfixed {
			h.status = finding.StatusWillNotFix
		}
	case vulndb.StatusFixed, "":
		ok, fixed := m.inRanges(t, c)
		if !ok {
			return h, false
		}
		h.fixed = fixed
		h.status = finding.StatusUnfixed
	default:
		m.log.Debug("unknown distribution status, deciding by ranges", "record", c.ID, "status", a.Status)
		ok, fixed := m.inRanges(t, c)
		if !ok {
			return h, false
		}
		h.fixed = fixed
		h.status = finding.StatusUnfixed
	}
	if len(h.fixed) > 0 {
		h.status = finding.StatusFixed
	}
	return h, true
}

// hasOrderedRanges reports whether the entry has a range the matcher
// evaluates (ECOSYSTEM or SEMVER).
func hasOrderedRanges(a *vulndb.Affected) bool {
	for i := range a.Ranges {
		if ordered(a.Ranges[i].Type) {
			return true
		}
	}
	return false
}

func ordered(typ string) bool { return typ == vulndb.RangeEcosystem || typ == vulndb.RangeSemver }

// inRanges reports whether the target's version is in one of the entry's
// ranges or its versions list, with the fixed version of each range that
// contains it. SEMVER ranges are read with the ecosystem's order, which is
// semantic versioning (or a superset of it) wherever OSV uses them; GIT
// ranges name commits and are skipped. A range whose events cannot be
// ordered is skipped with a debug log.
func (m *matcher) inRanges(t *target, c *store.Candidate) (bool, []string) {
	a := &c.Affected
	affected, usable := false, false
	var fixed []string
	for i := range a.Ranges {
		r := &a.Ranges[i]
		if !ordered(r.Type) {
			continue
		}
		usable = true
		ok, err := version.Affected(t.cmp, t.version, r.Events)
		if err != nil {
			m.log.Debug("range not evaluated", "record", c.ID, "ecosystem", t.eco, "package", t.name, "version", t.version, "err", err)
			continue
		}
		if !ok {
			continue
		}
		affected = true
		if f := nextFixed(t.cmp, t.version, r.Events); f != "" {
			fixed = append(fixed, f)
		}
	}
	if affected {
		return true, fixed
	}
	for _, v := range a.Versions {
		if v == t.version {
			return true, nil
		}
	}
	if !usable {
		// Only a versions list: compare by order too, so that spellings
		// of the same version ("1.0" and "1.0.0" in PEP 440) agree.
		for _, v := range a.Versions {
			if c, err := t.cmp.Compare(v, t.version); err == nil && c == 0 {
				return true, nil
			}
		}
	}
	return false, nil
}

// nextFixed returns the fixed event that ends the affected interval v lies
// in: of the fixed and last_affected events at or above v, the lowest, if
// it is a fixed event. "" when the interval ends with last_affected or
// is open.
func nextFixed(c version.Comparer, v string, events []vulndb.Event) string {
	best, bestFixed := "", false
	for i := range events {
		e := &events[i]
		var ev string
		isFixed := false
		switch {
		case e.Fixed != "":
			ev, isFixed = e.Fixed, true
		case e.LastAffected != "":
			ev = e.LastAffected
		default:
			continue
		}
		d, err := c.Compare(ev, v)
		if err != nil || d < 0 || (isFixed && d == 0) {
			continue
		}
		if best != "" {
			if d, err := c.Compare(ev, best); err != nil || d > 0 || (d == 0 && !isFixed) {
				continue
			}
		}
		best, bestFixed = ev, isFixed
	}
	if !bestFixed {
		return ""
	}
	return best
}
