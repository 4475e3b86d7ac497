package policy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// CycloneDX VEX: the vulnerabilities of a BOM (a VEX-only BOM or a full
// SBOM) whose analysis states an impact. Only the fields VEX needs are
// decoded, so documents of any 1.x version with fields this code does not
// know are read.

type cdxDoc struct {
	Metadata        *cdxMetadata   `json:"metadata"`
	Components      []cdxComponent `json:"components"`
	Vulnerabilities []cdxVuln      `json:"vulnerabilities"`
}

type cdxMetadata struct {
	Timestamp string        `json:"timestamp"`
	Component *cdxComponent `json:"component"`
}

type cdxComponent struct {
	BOMRef     string         `json:"bom-ref"`
	Type       string         `json:"type"`
	Version    string         `json:"version"`
	PURL       string         `json:"purl"`
	Components []cdxComponent `json:"components"`
}

type cdxVuln struct {
	ID         string `json:"id"`
	References []struct {
		ID string `json:"id"`
	} `json:"references"`
	Published string `json:"published"`
	Updated   string `json:"updated"`
	Analysis  *struct {
		State         string `json:"state"`
		Justification string `json:"justification"`
		Detail        string `json:"detail"`
		FirstIssued   string `json:"firstIssued"`
		LastUpdated   string `json:"lastUpdated"`
	} `json:"analysis"`
	Affects []struct {
		Ref string `json:"ref"`
	} `json:"affects"`
}

var cdxStates = map[cdx.ImpactAnalysisState]string{
	cdx.IASNotAffected:          StatusNotAffected,
	cdx.IASFalsePositive:        StatusNotAffected,
	cdx.IASResolved:             StatusFixed,
	cdx.IASResolvedWithPedigree: StatusFixed,
	cdx.IASExploitable:          StatusAffected,
	cdx.IASInTriage:             StatusUnderInvestigation,
}

var cdxJustifications = []cdx.ImpactAnalysisJustification{
	cdx.IAJCodeNotPresent,
	cdx.IAJCodeNotReachable,
	cdx.IAJRequiresConfiguration,
	cdx.IAJRequiresDependency,
	cdx.IAJRequiresEnvironment,
	cdx.IAJProtectedByCompiler,
	cdx.IAJProtectedAtRuntime,
	cdx.IAJProtectedAtPerimeter,
	cdx.IAJProtectedByMitigatingControl,
}

func (v *VEX) parseCycloneDX(data []byte) error {
	var doc cdxDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	// bom-ref → product. The BOM's own component is the image.
	refs := map[string]Product{}
	var walk func(cs []cdxComponent)
	walk = func(cs []cdxComponent) {
		for i := range cs {
			c := &cs[i]
			if c.BOMRef != "" && c.PURL != "" {
				if p, ok := productFromID(c.PURL); ok {
					refs[c.BOMRef] = p
				}
			}
			walk(c.Components)
		}
	}
	walk(doc.Components)
	var docTime string
	if doc.Metadata != nil {
		docTime = doc.Metadata.Timestamp
	}
	if doc.Metadata != nil && doc.Metadata.Component != nil {
		mc := doc.Metadata.Component
		walk(mc.Components)
		if mc.BOMRef != "" {
			img := Product{ID: mc.BOMRef, Image: true}
			if strings.HasPrefix(mc.Version, "sha256:") {
				img.Digest = mc.Version
			}
			if p, ok := productFromID(mc.PURL); ok {
				switch {
				case !p.Image:
					img = p // the BOM describes a package, not an image
				case p.Digest != "":
					img.Digest = p.Digest
				}
			}
			refs[mc.BOMRef] = img
		}
	}
	dt, err := parseTime("metadata.timestamp", docTime)
	if err != nil {
		return err
	}
	for i, cv := range doc.Vulnerabilities {
		if cv.Analysis == nil || cv.Analysis.State == "" {
			continue // a vulnerability listed without an impact statement
		}
		s, err := v.cycloneDXStatement(i, &cv, refs)
		if err != nil {
			return fmt.Errorf("vulnerabilities[%d] (%s): %w", i, cv.ID, err)
		}
		s.Time = firstTime(s.Time, dt)
		v.Statements = append(v.Statements, s)
	}
	return nil
}

func (v *VEX) cycloneDXStatement(i int, cv *cdxVuln, refs map[string]Product) (Statement, error) {
	var s Statement
	s.Vulnerability = strings.TrimSpace(cv.ID)
	if s.Vulnerability == "" {
		return s, fmt.Errorf("vulnerability id missing")
	}
	for _, r := range cv.References {
		if r.ID != "" && !strings.EqualFold(r.ID, s.Vulnerability) {
			s.Aliases = append(s.Aliases, r.ID)
		}
	}
	a := cv.Analysis
	status, ok := cdxStates[cdx.ImpactAnalysisState(a.State)]
	if !ok {
		return s, fmt.Errorf("unknown analysis state %q", a.State)
	}
	s.Status = status
	if a.Justification != "" && !slices.Contains(cdxJustifications, cdx.ImpactAnalysisJustification(a.Justification)) {
		return s, fmt.Errorf("unknown analysis justification %q", a.Justification)
	}
	s.Justification = a.Justification
	if s.Justification == "" && a.State == string(cdx.IASFalsePositive) {
		s.Justification = a.State
	}
	s.Impact = a.Detail
	for _, t := range []struct{ what, v string }{
		{"analysis.lastUpdated", a.LastUpdated}, {"analysis.firstIssued", a.FirstIssued},
		{"updated", cv.Updated}, {"published", cv.Published},
	} {
		tt, err := parseTime(t.what, t.v)
		if err != nil {
			return s, err
		}
		if s.Time.IsZero() {
			s.Time = tt
		}
	}
	for _, af := range cv.Affects {
		p, ok := resolveCycloneDXRef(af.Ref, refs)
		if !ok {
			v.note("vulnerabilities[%d] (%s): affects ref %q names no component with a package URL; not applied to it", i, s.Vulnerability, af.Ref)
			continue
		}
		s.Products = append(s.Products, p)
	}
	if len(cv.Affects) == 0 {
		v.note("vulnerabilities[%d] (%s) affects nothing; not applied", i, s.Vulnerability)
	}
	return s, nil
}

// resolveCycloneDXRef turns an affects ref into a product: a package-url,
// a bom-ref of this BOM, or a BOM-Link (urn:cdx:serial/version#bom-ref; a
// link to a whole BOM names the image it describes).
func resolveCycloneDXRef(ref string, refs map[string]Product) (Product, bool) {
	if p, ok := refs[ref]; ok {
		return p, true
	}
	if strings.HasPrefix(ref, "urn:cdx:") {
		bom, frag, ok := strings.Cut(ref, "#")
		if !ok {
			return Product{ID: bom, Image: true}, true
		}
		if u, err := url.PathUnescape(frag); err == nil {
			frag = u
		}
		if p, ok := refs[frag]; ok {
			return p, true
		}
		ref = frag // a fragment may be a purl (drydock's bom-refs are)
	}
	if strings.HasPrefix(ref, "pkg:") {
		p, ok := productFromID(ref)
		return p, ok
	}
	return Product{}, false
}
