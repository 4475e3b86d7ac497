package policy

import (
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/finding"
)

// Findings are every kind of finding of one scan.
type Findings struct {
	Vulnerabilities   []finding.Finding
	Secrets           []finding.Secret
	Misconfigurations []finding.Misconfiguration
	Licenses          []finding.License
}

// ApplyAll applies the policy to every kind of finding in place: the
// severity filter removes what is not shown (--ignore-unfixed concerns
// vulnerabilities only), ignore entries mark what they cover as
// suppressed. An ignore entry's id matches a secret's rule, a check or a
// licence rule (or the licence itself); its path matches a secret's or a
// misconfiguration's file, or a licence's package file; its package
// matches a licence's package. Slices that were nil stay nil.
func ApplyAll(f *Findings, o Options) []string {
	st := o.newState()
	if f.Vulnerabilities != nil {
		f.Vulnerabilities = st.vulnerabilities(f.Vulnerabilities)
	}
	f.Secrets = filterKind(st, f.Secrets, func(s *finding.Secret) (finding.Severity, *IgnoreEntryTarget, **finding.Suppression) {
		return s.Severity, &IgnoreEntryTarget{ID: s.ID, Path: s.Path}, &s.Suppression
	})
	f.Misconfigurations = filterKind(st, f.Misconfigurations, func(m *finding.Misconfiguration) (finding.Severity, *IgnoreEntryTarget, **finding.Suppression) {
		return m.Severity, &IgnoreEntryTarget{ID: m.ID, Path: m.Path}, &m.Suppression
	})
	f.Licenses = filterKind(st, f.Licenses, func(l *finding.License) (finding.Severity, *IgnoreEntryTarget, **finding.Suppression) {
		return l.Severity, &IgnoreEntryTarget{ID: l.ID, Aliases: []string{l.License}, Path: l.Package.Path, Package: &l.Package}, &l.Suppression
	})
	return st.finish()
}

// IgnoreEntryTarget is what an ignore entry is matched against for the
// kinds other than vulnerabilities.
type IgnoreEntryTarget struct {
	ID      string
	Aliases []string
	Path    string
	Package *finding.Package
}

func filterKind[T any](st *state, in []T, get func(*T) (finding.Severity, *IgnoreEntryTarget, **finding.Suppression)) []T {
	if in == nil {
		return nil
	}
	out := make([]T, 0, len(in))
	for _, item := range in {
		sev, tgt, sup := get(&item)
		s := st.ignored(func(e *IgnoreEntry) bool { return e.matchesTarget(tgt) })
		if len(st.o.Severities) > 0 && !slices.Contains(st.o.Severities, sev) {
			continue
		}
		if *sup == nil && s != nil {
			*sup = s
		}
		out = append(out, item)
	}
	return out
}

// matchesTarget reports whether every criterion of e matches t.
func (e *IgnoreEntry) matchesTarget(t *IgnoreEntryTarget) bool {
	if e.ID != "" && !strings.EqualFold(e.ID, t.ID) && !slices.ContainsFunc(t.Aliases, func(a string) bool { return strings.EqualFold(a, e.ID) }) {
		return false
	}
	if e.Package != "" {
		if t.Package == nil {
			return false
		}
		if e.purl != nil {
			if !packageMatchesPURL(t.Package, e.purl) {
				return false
			}
		} else if e.Package != t.Package.Name && e.Package != t.Package.SourceName {
			return false
		}
	}
	if e.Path != "" && (t.Path == "" || !globMatchPathOrParent(e.Path, t.Path)) {
		return false
	}
	return true
}
