package report

import (
	"cmp"
	"io"
	"net/url"
	"slices"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/drydockscan/drydock/internal/cvss"
	"github.com/drydockscan/drydock/internal/finding"
)

// Property names drydock adds to CycloneDX vulnerabilities.
const (
	propStatus          = "drydock:vulnerability:status"
	propKEVAdded        = "drydock:kev:date_added"
	propKEVDue          = "drydock:kev:due_date"
	propKEVRansomware   = "drydock:kev:ransomware_use"
	propSuppressionKind = "drydock:suppression:kind"
	propSuppressionSrc  = "drydock:suppression:source"
	propSuppressionExp  = "drydock:suppression:expires"
	propRecord          = "drydock:record"
	// propInUseRef names, once per affected component a recorded run
	// used, its bom-ref (--runtime-events).
	propInUseRef = "drydock:in_use:ref"
)

// WriteCycloneDXVEX writes a CycloneDX 1.6 VEX document: the findings as
// vulnerabilities with their analysis, and no components. Each affects
// entry is a BOM-Link into the SBOM the cyclonedx format writes for the
// same inventory (urn:cdx:<its serial>/1#<bom-ref>), so the pair can be
// published and consumed separately.
func WriteCycloneDXVEX(w io.Writer, r *Report, _ Options) error {
	return encodeCycloneDX(w, CycloneDXVEX(r))
}

// CycloneDXVEX builds the VEX document.
func CycloneDXVEX(r *Report) *cdx.BOM {
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + contentUUIDSalted(r, "vex\x00")
	target := targetComponent(r)
	bom.Metadata = &cdx.Metadata{Tools: cdxTools(r), Component: &target}
	refs := componentRefs(r)
	sbom := "urn:cdx:" + contentUUID(r) + "/1#"
	vulns := cdxVulnerabilities(r, func(f *finding.Finding) string {
		return sbom + (&url.URL{Fragment: refs.ref(f)}).EscapedFragment()
	})
	bom.Vulnerabilities = &vulns
	return bom
}

// cdxVulnerabilities turns findings into CycloneDX vulnerabilities: one per
// id and suppression state, affecting every package it was found in.
func cdxVulnerabilities(r *Report, refOf func(*finding.Finding) string) []cdx.Vulnerability {
	fs := sortedFindings(r)
	type group struct {
		key      string
		findings []*finding.Finding
	}
	var groups []*group
	byKey := map[string]*group{}
	for i := range fs {
		f := &fs[i]
		key := f.ID + "\x00" + suppressionKey(f.Suppression)
		g := byKey[key]
		if g == nil {
			g = &group{key: key}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.findings = append(g.findings, f)
	}
	slices.SortStableFunc(groups, func(a, b *group) int { return cmp.Compare(a.key, b.key) })
	out := make([]cdx.Vulnerability, 0, len(groups))
	for _, g := range groups {
		out = append(out, cdxVulnerability(g.findings, refOf))
	}
	return out
}

func suppressionKey(s *finding.Suppression) string {
	if s == nil {
		return ""
	}
	return strings.Join([]string{s.Kind, s.Status, s.Justification, s.Statement, s.Source, s.Expires}, "\x00")
}

func cdxVulnerability(group []*finding.Finding, refOf func(*finding.Finding) string) cdx.Vulnerability {
	f := group[0]
	name, link := idSource(f.ID)
	v := cdx.Vulnerability{
		ID:          f.ID,
		Source:      &cdx.Source{Name: name, URL: link},
		Description: f.Title,
		Detail:      f.Description,
		Published:   rfc3339(f.Published),
		Updated:     rfc3339(f.Modified),
	}
	if len(f.Aliases) > 0 {
		var refs []cdx.VulnerabilityReference
		for _, a := range f.Aliases {
			n, l := idSource(a)
			refs = append(refs, cdx.VulnerabilityReference{ID: a, Source: &cdx.Source{Name: n, URL: l}})
		}
		v.References = &refs
	}
	ratings := []cdx.VulnerabilityRating{{
		Source:   &cdx.Source{Name: f.SeveritySource},
		Severity: cdxSeverity(f.Severity),
		Method:   cdx.ScoringMethodOther,
	}}
	if f.SeveritySource == "" {
		ratings[0].Source = nil
	}
	for _, c := range f.CVSS {
		score := c.Score
		rt := cdx.VulnerabilityRating{
			Score:    &score,
			Severity: cdxSeverity(cvssSeverity(c)),
			Method:   cdxMethod(c.Version),
			Vector:   c.Vector,
		}
		if c.Source != "" {
			rt.Source = &cdx.Source{Name: c.Source}
		}
		ratings = append(ratings, rt)
	}
	v.Ratings = &ratings

	var advisories []cdx.Advisory
	seen := map[string]bool{}
	for _, u := range append([]string{f.PrimaryURL}, f.References...) {
		if webURL(u) && !seen[u] {
			seen[u] = true
			advisories = append(advisories, cdx.Advisory{URL: u})
		}
	}
	if len(advisories) > 0 {
		v.Advisories = &advisories
	}

	var affects []cdx.Affects
	var recommendations []string
	for _, g := range group {
		versions := []cdx.AffectedVersions{{Version: g.Package.Version, Status: cdx.VulnerabilityStatusAffected}}
		for _, fixed := range g.FixedVersions {
			versions = append(versions, cdx.AffectedVersions{Version: fixed, Status: cdx.VulnerabilityStatusNotAffected})
		}
		affects = append(affects, cdx.Affects{Ref: refOf(g), Range: &versions})
		switch {
		case len(g.FixedVersions) > 0:
			recommendations = append(recommendations, "Upgrade "+g.Package.Name+" "+g.Package.Version+" to "+strings.Join(g.FixedVersions, " or "))
		case g.Status == finding.StatusWillNotFix:
			recommendations = append(recommendations, g.Package.Name+" "+g.Package.Version+": the distribution will not fix it")
		}
	}
	v.Affects = &affects
	v.Recommendation = strings.Join(slices.Compact(recommendations), "; ")

	var props []cdx.Property
	add := func(k, val string) {
		if val != "" {
			props = append(props, cdx.Property{Name: k, Value: val})
		}
	}
	add(propStatus, f.Status)
	for _, rec := range f.Records {
		add(propRecord, rec)
	}
	for _, g := range group {
		if g.InUse {
			add(propInUseRef, refOf(g))
		}
	}
	if k := f.KEV; k != nil {
		add(propKEVAdded, k.DateAdded)
		add(propKEVDue, k.DueDate)
		add(propKEVRansomware, k.RansomwareUse)
	}
	if s := f.Suppression; s != nil {
		v.Analysis = cdxAnalysis(s)
		add(propSuppressionKind, s.Kind)
		add(propSuppressionSrc, s.Source)
		add(propSuppressionExp, s.Expires)
	}
	if len(props) > 0 {
		v.Properties = &props
	}
	return v
}

// cdxAnalysis states a suppression as CycloneDX impact analysis: a VEX
// not_affected statement is state not_affected with the justification
// mapped onto CycloneDX's; a VEX fixed statement is resolved; an ignore
// entry (an accepted risk, not a statement about the code) is only
// described in detail.
func cdxAnalysis(s *finding.Suppression) *cdx.VulnerabilityAnalysis {
	a := &cdx.VulnerabilityAnalysis{Detail: suppressionText(s)}
	if s.Kind != finding.SuppressedByVEX {
		return a
	}
	switch s.Status {
	case "not_affected":
		a.State = cdx.IASNotAffected
		a.Justification = cdxJustification(s.Justification)
	case "fixed":
		a.State = cdx.IASResolved
	}
	return a
}

// cdxJustification maps OpenVEX (and CSAF) justifications onto CycloneDX's.
func cdxJustification(j string) cdx.ImpactAnalysisJustification {
	switch j {
	case "component_not_present", "vulnerable_code_not_present":
		return cdx.IAJCodeNotPresent
	case "vulnerable_code_not_in_execute_path":
		return cdx.IAJCodeNotReachable
	case "vulnerable_code_cannot_be_controlled_by_adversary":
		return cdx.IAJRequiresEnvironment
	case "inline_mitigations_already_exist":
		return cdx.IAJProtectedByMitigatingControl
	}
	// Already a CycloneDX justification?
	switch v := cdx.ImpactAnalysisJustification(j); v {
	case cdx.IAJCodeNotPresent, cdx.IAJCodeNotReachable, cdx.IAJRequiresConfiguration, cdx.IAJRequiresDependency,
		cdx.IAJRequiresEnvironment, cdx.IAJProtectedByCompiler, cdx.IAJProtectedAtRuntime,
		cdx.IAJProtectedAtPerimeter, cdx.IAJProtectedByMitigatingControl:
		return v
	}
	return ""
}

func cdxSeverity(s finding.Severity) cdx.Severity {
	switch s {
	case finding.Critical:
		return cdx.SeverityCritical
	case finding.High:
		return cdx.SeverityHigh
	case finding.Medium:
		return cdx.SeverityMedium
	case finding.Low:
		return cdx.SeverityLow
	case finding.Negligible:
		return cdx.SeverityInfo
	}
	return cdx.SeverityUnknown
}

// cvssSeverity is the qualitative rating of one CVSS score in its version.
func cvssSeverity(c finding.CVSS) finding.Severity {
	s, _ := finding.ParseSeverity(cvss.Rating(cvss.Version(c.Version), c.Score))
	return s
}

func cdxMethod(version string) cdx.ScoringMethod {
	switch cvss.Version(version) {
	case cvss.V2:
		return cdx.ScoringMethodCVSSv2
	case cvss.V30:
		return cdx.ScoringMethodCVSSv3
	case cvss.V31:
		return cdx.ScoringMethodCVSSv31
	case cvss.V40:
		return cdx.ScoringMethodCVSSv4
	}
	return cdx.ScoringMethodOther
}
