package match

import (
	"cmp"
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/cvss"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/vulndb"
)

// Rating tiers, most trusted first (see the package documentation).
const (
	tierDistro = iota
	tierGHSA
	tierCNA
	tierDatabase
	tierNVD
	tierOther
)

// rating is one usable severity of a finding.
type rating struct {
	tier   int
	word   bool // a qualitative rating, not a vector
	ver    int  // CVSS version rank, newest highest
	score  float64
	sev    finding.Severity
	source string
}

// rate sets the finding's Severity, SeveritySource and CVSS from the
// matched entries, the records and the CVEs' enrichment.
func (m *matcher) rate(f *finding.Finding, t *target, g *group, recs []*vulndb.Record, cves []string) error {
	var (
		ratings []rating
		vectors []finding.CVSS
		seen    = map[[2]string]bool{}
	)
	add := func(s vulndb.Severity) {
		source := sourceName(s.Source)
		tier := severityTier(t, s)
		if s.Type == vulndb.Vendor {
			sev, ok := finding.ParseSeverity(s.Score)
			if !ok || sev == finding.Unknown {
				return // "not yet assigned" and other non-ratings
			}
			ratings = append(ratings, rating{tier: tier, word: true, sev: sev, source: source})
			return
		}
		sc, err := cvss.FromSeverity(s)
		if err != nil {
			m.log.Debug("severity vector skipped", "finding", f.ID, "source", s.Source, "err", err)
			return
		}
		sev, _ := finding.ParseSeverity(sc.Rating)
		ratings = append(ratings, rating{tier: tier, ver: versionRank(sc.Version), score: sc.Score, sev: sev, source: source})
		vector := strings.TrimSpace(s.Score)
		if k := [2]string{vector, source}; !seen[k] {
			seen[k] = true
			vectors = append(vectors, finding.CVSS{Version: string(sc.Version), Vector: vector, Score: sc.Score, Source: source})
		}
	}
	for _, h := range g.hits {
		for _, s := range h.cand.Affected.Severity {
			add(s)
		}
	}
	for _, r := range recs {
		for _, s := range r.Severity {
			add(s)
		}
	}
	for _, cve := range cves {
		sevs, err := m.severities(cve)
		if err != nil {
			return err
		}
		for _, s := range sevs {
			add(s)
		}
	}
	f.Severity = finding.Unknown
	if len(ratings) > 0 {
		best := slices.MinFunc(ratings, func(a, b rating) int {
			return cmp.Or(
				cmp.Compare(a.tier, b.tier),
				-cmpBool(a.word, b.word),
				cmp.Compare(b.ver, a.ver),
				cmp.Compare(b.score, a.score),
				cmp.Compare(a.source, b.source),
			)
		})
		f.Severity, f.SeveritySource = best.sev, best.source
	}
	slices.SortFunc(vectors, func(a, b finding.CVSS) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(b.Version, a.Version), cmp.Compare(a.Vector, b.Vector))
	})
	f.CVSS = vectors
	return nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// severityTier ranks a rating's source for the target.
func severityTier(t *target, s vulndb.Severity) int {
	src := strings.ToLower(s.Source)
	switch {
	case s.Type == vulndb.Vendor && t.os && src == t.distro:
		return tierDistro
	case src == "ghsa" || src == "osv:ghsa":
		return tierGHSA
	case s.Type == vulndb.Vendor:
		return tierOther
	case src == "nvd":
		return tierNVD
	case src == "" || strings.HasPrefix(src, "osv:"):
		return tierDatabase
	}
	return tierCNA
}

// sourceName is the name a rating's source is reported under: "ghsa",
// "rustsec" for OSV records' own vectors ("osv:RUSTSEC"), "cvss" for a
// vector without a source, else the source as the feed gave it.
func sourceName(s string) string {
	switch {
	case s == "":
		return "cvss"
	case strings.HasPrefix(s, "osv:"):
		return strings.ToLower(strings.TrimPrefix(s, "osv:"))
	}
	return s
}

func versionRank(v cvss.Version) int {
	switch v {
	case cvss.V40:
		return 4
	case cvss.V31:
		return 3
	case cvss.V30:
		return 2
	case cvss.V2:
		return 1
	}
	return 0
}
