package match

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/vulndb"
)

// group is the hits of one package that name the same vulnerability.
type group struct {
	hits []*hit
	ids  []string // every id and alias, sorted, unique
}

// findings merges a target's hits into one finding per vulnerability.
func (m *matcher) findings(t *target, p *inventory.Package, hits []hit) ([]finding.Finding, error) {
	groups := mergeHits(hits)
	out := make([]finding.Finding, 0, len(groups))
	for _, g := range groups {
		f, err := m.finding(t, p, g)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// mergeHits groups hits whose record ids and aliases overlap (union-find
// over the ids), in order of each group's first hit.
func mergeHits(hits []hit) []*group {
	parent := make([]int, len(hits))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{}
	for i := range hits {
		c := hits[i].cand
		for _, id := range append([]string{c.ID}, c.Aliases...) {
			if j, ok := owner[id]; ok {
				a, b := find(i), find(j)
				if a != b {
					parent[max(a, b)] = min(a, b)
				}
			} else {
				owner[id] = i
			}
		}
	}
	byRoot := map[int]*group{}
	var out []*group
	for i := range hits {
		r := find(i)
		g := byRoot[r]
		if g == nil {
			g = &group{}
			byRoot[r] = g
			out = append(out, g)
		}
		g.hits = append(g.hits, &hits[i])
		g.ids = append(g.ids, hits[i].cand.ID)
		g.ids = append(g.ids, hits[i].cand.Aliases...)
	}
	for _, g := range out {
		slices.Sort(g.ids)
		g.ids = slices.Compact(g.ids)
	}
	return out
}

// finding builds the finding of one group.
func (m *matcher) finding(t *target, p *inventory.Package, g *group) (finding.Finding, error) {
	f := finding.Finding{
		Package: finding.Package{
			Type: p.Type, Name: p.Name, Version: p.Version,
			SourceName: p.SourceName, SourceVersion: p.SourceVersion,
			PURL: p.PURL, Path: p.Path, Layer: p.Layer, LayerIndex: p.LayerIndex, Locations: p.Locations,
			Ecosystem: t.eco, OwnedBy: p.OwnedBy,
		},
	}
	cves := cveIDs(g.ids)
	f.ID = primaryID(g.ids, cves)
	for _, id := range g.ids {
		if id != f.ID {
			f.Aliases = append(f.Aliases, id)
		}
	}

	// Records, status and fixed versions come from the candidates.
	willNotFix := false
	recIDs := make([]string, 0, len(g.hits))
	for _, h := range g.hits {
		f.Records = append(f.Records, h.cand.Feed+":"+h.cand.ID)
		recIDs = append(recIDs, h.cand.ID)
		f.FixedVersions = append(f.FixedVersions, h.fixed...)
		if h.status == finding.StatusWillNotFix {
			willNotFix = true
		}
	}
	slices.Sort(f.Records)
	f.Records = slices.Compact(f.Records)
	slices.Sort(recIDs)
	recIDs = slices.Compact(recIDs)
	byVersion := cmpFixed(t)
	slices.SortFunc(f.FixedVersions, byVersion)
	f.FixedVersions = slices.CompactFunc(f.FixedVersions, func(a, b string) bool { return byVersion(a, b) == 0 })
	if f.Package.Ecosystem == "Go" && strings.HasPrefix(f.Package.Version, "v") {
		// OSV writes Go versions without the "v" the module system and the
		// installed version use; show the fix in the same form.
		for i, v := range f.FixedVersions {
			if !strings.HasPrefix(v, "v") {
				f.FixedVersions[i] = "v" + v
			}
		}
	}
	switch {
	case len(f.FixedVersions) > 0:
		f.Status = finding.StatusFixed
	case willNotFix:
		f.Status = finding.StatusWillNotFix
	default:
		f.Status = finding.StatusUnfixed
	}

	// Text from the full records, best first.
	recs := make([]*vulndb.Record, 0, len(recIDs))
	for _, id := range recIDs {
		r, err := m.record(id)
		if err != nil {
			return finding.Finding{}, fmt.Errorf("match %s %s@%s (%s): %w", t.eco, p.Name, p.Version, p.Path, err)
		}
		recs = append(recs, r)
	}
	slices.SortStableFunc(recs, func(a, b *vulndb.Record) int {
		return cmp.Or(cmp.Compare(textRank(a.ID), textRank(b.ID)), cmp.Compare(a.ID, b.ID))
	})
	describe(&f, recs)

	if err := m.rate(&f, t, g, recs, cves); err != nil {
		return finding.Finding{}, err
	}
	for _, cve := range cves {
		k, err := m.kevEntry(cve)
		if err != nil {
			return finding.Finding{}, err
		}
		if k != nil {
			f.KEV = &finding.KEV{DateAdded: k.DateAdded, DueDate: k.DueDate, RansomwareUse: k.KnownRansomwareCampaignUse, RequiredAction: k.RequiredAction}
			break
		}
	}
	return f, nil
}

// primaryID picks a group's id: its lowest CVE; else a CVE embedded in a
// record id ("UBUNTU-CVE-2024-1234"); else the lowest id.
// cves are the group's CVE ids, sorted (cveIDs).
func primaryID(ids, cves []string) string {
	if len(cves) > 0 {
		return cves[0]
	}
	var embedded []string
	for _, id := range ids {
		if i := strings.Index(id, "-CVE-"); i > 0 && vulndb.ValidCVE(id[i+1:]) {
			embedded = append(embedded, id[i+1:])
		}
	}
	if len(embedded) > 0 {
		slices.SortFunc(embedded, compareCVE)
		return embedded[0]
	}
	return ids[0]
}

// cveIDs returns the CVE ids among ids, in numeric order.
func cveIDs(ids []string) []string {
	var out []string
	for _, id := range ids {
		if vulndb.ValidCVE(id) {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, compareCVE)
	return out
}

// compareCVE orders CVE ids by year, then number.
func compareCVE(a, b string) int {
	ya, na := cveParts(a)
	yb, nb := cveParts(b)
	return cmp.Or(cmp.Compare(ya, yb), cmp.Compare(na, nb), cmp.Compare(a, b))
}

func cveParts(id string) (year, num int) {
	year, _ = strconv.Atoi(id[4:8])
	num, _ = strconv.Atoi(id[9:])
	return year, num
}

// textRank orders records for their text: GitHub's advisories have the
// best summaries, then the ecosystem databases, then everything else.
func textRank(id string) int {
	switch {
	case strings.HasPrefix(id, "GHSA-"):
		return 0
	case strings.HasPrefix(id, "GO-"), strings.HasPrefix(id, "PYSEC-"), strings.HasPrefix(id, "RUSTSEC-"):
		return 1
	}
	return 2
}

// describe fills the finding's text, links and dates from its records
// (best first).
func describe(f *finding.Finding, recs []*vulndb.Record) {
	seen := map[string]bool{}
	var published, modified time.Time
	for _, r := range recs {
		if f.Title == "" {
			f.Title = strings.TrimSpace(r.Summary)
		}
		if f.Description == "" {
			f.Description = strings.TrimSpace(r.Details)
		}
		if f.PrimaryURL == "" {
			f.PrimaryURL = primaryURL(r)
		}
		for _, ref := range r.References {
			if ref.URL != "" && !seen[ref.URL] {
				seen[ref.URL] = true
				f.References = append(f.References, ref.URL)
			}
		}
		if !r.Published.IsZero() && (published.IsZero() || r.Published.Before(published)) {
			published = r.Published
		}
		if r.Modified.After(modified) {
			modified = r.Modified
		}
	}
	if !published.IsZero() {
		f.Published = published.UTC().Format(time.RFC3339)
	}
	if !modified.IsZero() {
		f.Modified = modified.UTC().Format(time.RFC3339)
	}
}

// primaryURL returns the page that describes a record: the database's own
// page for the databases with one, else its first advisory reference,
// else its first reference.
func primaryURL(r *vulndb.Record) string {
	id := r.ID
	switch {
	case strings.HasPrefix(id, "GO-"):
		return "https://pkg.go.dev/vuln/" + id
	case strings.HasPrefix(id, "GHSA-"):
		return "https://github.com/advisories/" + id
	case strings.HasPrefix(id, "RUSTSEC-"):
		return "https://rustsec.org/advisories/" + id + ".html"
	case strings.HasPrefix(id, "PYSEC-"):
		return "https://osv.dev/vulnerability/" + id
	case strings.HasPrefix(id, "DEBIAN-") && len(id) > len("DEBIAN-"):
		return "https://security-tracker.debian.org/tracker/" + strings.TrimPrefix(id, "DEBIAN-")
	}
	for _, ref := range r.References {
		if ref.Type == "ADVISORY" && ref.URL != "" {
			return ref.URL
		}
	}
	if len(r.References) > 0 {
		return r.References[0].URL
	}
	return ""
}

// record returns the full record lookup read for a hit.
func (m *matcher) record(id string) (*vulndb.Record, error) {
	if r, ok := m.records[id]; ok && r != nil {
		return r, nil
	}
	return nil, fmt.Errorf("record %s: not read with its candidate", id)
}

// severities returns a CVE's enrichment ratings, read once per Match (or
// per shared Reads).
func (m *matcher) severities(cve string) ([]vulndb.Severity, error) {
	if s, ok := m.reads.sevs.get(cve); ok {
		return s, nil
	}
	s, err := m.db.Severities(cve)
	if err != nil {
		return nil, fmt.Errorf("severities of %s: %w", cve, err)
	}
	m.reads.sevs.put(cve, s)
	return s, nil
}

// kevEntry returns a CVE's KEV entry or nil, read once per Match (or per
// shared Reads).
func (m *matcher) kevEntry(cve string) (*vulndb.KEV, error) {
	if k, ok := m.reads.kev.get(cve); ok {
		return k, nil
	}
	k, found, err := m.db.KEV(cve)
	if err != nil {
		return nil, fmt.Errorf("KEV entry of %s: %w", cve, err)
	}
	var kp *vulndb.KEV
	if found {
		kp = &k
	}
	m.reads.kev.put(cve, kp)
	return kp, nil
}
