package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/drydockscan/drydock/internal/finding"
)

// MaxVEXSize caps a VEX document.
const MaxVEXSize = 32 << 20

// VEX formats.
const (
	FormatOpenVEX   = "openvex"
	FormatCycloneDX = "cyclonedx"
)

// VEX statuses, in OpenVEX's vocabulary; CycloneDX analysis states are
// mapped onto them (resolved → fixed, false_positive → not_affected,
// exploitable → affected, in_triage → under_investigation).
const (
	StatusNotAffected        = "not_affected"
	StatusAffected           = "affected"
	StatusFixed              = "fixed"
	StatusUnderInvestigation = "under_investigation"
)

// VEX is a parsed VEX document (OpenVEX, OpenVEX in an in-toto
// attestation, or CycloneDX).
type VEX struct {
	// Source is the file's path as given.
	Source string
	// Format is FormatOpenVEX or FormatCycloneDX.
	Format     string
	Statements []Statement
	// notes are problems that leave the document usable but some
	// statements without effect; Apply reports them as warnings.
	notes []string
}

// Statement is one VEX statement: the status of one vulnerability in some
// products.
type Statement struct {
	Vulnerability string
	Aliases       []string
	Products      []Product
	// Status is one of the Status* constants.
	Status string
	// Justification is the VEX justification (OpenVEX or CycloneDX
	// vocabulary); Impact the free-text impact statement or detail.
	Justification string
	Impact        string
	// Time is when the statement was made; the latest statement about a
	// vulnerability and product wins.
	Time time.Time
}

// Product is what a statement is about: a package, or the image itself.
type Product struct {
	// ID is the product's identifier as written.
	ID string
	// Image is set when the product is the scanned image (pkg:oci/…, the
	// subject of an attestation, the SBOM's own component); Digest is its
	// digest when known.
	Image  bool
	Digest string
	// Subcomponents narrow the statement to these packages inside the
	// product.
	Subcomponents []Product

	purl *packageurl.PackageURL
}

// suppresses reports whether status keeps a finding from counting.
func suppresses(status string) bool {
	return status == StatusNotAffected || status == StatusFixed
}

// LoadVEX reads and parses the VEX document at p.
func LoadVEX(p string) (*VEX, error) {
	b, err := readCapped(p, MaxVEXSize)
	if err != nil {
		return nil, fmt.Errorf("vex: %w", err)
	}
	return ParseVEX(b, p)
}

// ParseVEX parses a VEX document, detecting its format: OpenVEX (bare or
// as the predicate of an in-toto statement) or CycloneDX JSON. source names
// it in errors and in suppressions.
func ParseVEX(data []byte, source string) (*VEX, error) {
	if len(data) > MaxVEXSize {
		return nil, fmt.Errorf("vex %s: larger than %d MiB", source, MaxVEXSize>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '<' {
		return nil, fmt.Errorf("vex %s: XML documents are not supported (use CycloneDX JSON or OpenVEX)", source)
	}
	var top struct {
		Context       json.RawMessage `json:"@context"`
		Type          string          `json:"_type"`
		PredicateType string          `json:"predicateType"`
		BOMFormat     string          `json:"bomFormat"`
		Document      *struct {
			CSAFVersion string `json:"csaf_version"`
		} `json:"document"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("vex %s: %w", source, err)
	}
	// @context is a string; JSON-LD also allows a list.
	var ctx string
	if json.Unmarshal(top.Context, &ctx) != nil {
		var list []string
		_ = json.Unmarshal(top.Context, &list)
		ctx = strings.Join(list, " ")
	}
	v := &VEX{Source: source}
	var err error
	switch {
	case strings.Contains(ctx, "openvex"):
		v.Format = FormatOpenVEX
		err = v.parseOpenVEX(data, nil)
	case strings.HasPrefix(top.Type, "https://in-toto.io/Statement") && strings.Contains(top.PredicateType, "openvex"):
		v.Format = FormatOpenVEX
		err = v.parseInToto(data)
	case top.BOMFormat == "CycloneDX":
		v.Format = FormatCycloneDX
		err = v.parseCycloneDX(data)
	case top.Document != nil && top.Document.CSAFVersion != "":
		err = fmt.Errorf("CSAF documents are not supported (use OpenVEX or CycloneDX VEX)")
	default:
		err = fmt.Errorf("not an OpenVEX or CycloneDX document")
	}
	if err != nil {
		return nil, fmt.Errorf("vex %s: %w", source, err)
	}
	return v, nil
}

func (v *VEX) note(format string, args ...any) {
	v.notes = append(v.notes, v.Source+": "+fmt.Sprintf(format, args...))
}

// parseTime reads an optional RFC 3339 time.
func parseTime(what, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time", what, s)
	}
	return t, nil
}

// firstTime returns the first non-zero time.
func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// productFromID turns a product or subcomponent identifier into a Product.
// ok is false when the identifier is neither a package-url nor an image
// reference with a digest.
func productFromID(id string) (Product, bool) {
	p := Product{ID: id}
	if strings.HasPrefix(id, "pkg:") {
		u, err := packageurl.FromString(id)
		if err != nil {
			return p, false
		}
		if u.Type == packageurl.TypeOCI {
			p.Image, p.Digest = true, u.Version
			return p, true
		}
		p.purl = &u
		return p, true
	}
	// An image reference, name@sha256:…
	if _, d, ok := strings.Cut(id, "@"); ok && strings.HasPrefix(d, "sha256:") {
		p.Image, p.Digest = true, d
		return p, true
	}
	return p, false
}

// vexIndex finds the statements about a finding's vulnerability.
type vexIndex struct {
	byID     map[string][]vexRef
	digests  []string
	warnings []string
}

type vexRef struct {
	doc, stmt int
	v         *VEX
	s         *Statement
}

func newVEXIndex(docs []*VEX, digests []string) *vexIndex {
	x := &vexIndex{byID: map[string][]vexRef{}, digests: digests}
	for d, v := range docs {
		if v == nil {
			continue
		}
		x.warnings = append(x.warnings, v.notes...)
		for i := range v.Statements {
			s := &v.Statements[i]
			ref := vexRef{doc: d, stmt: i, v: v, s: s}
			ids := append([]string{s.Vulnerability}, s.Aliases...)
			seen := map[string]bool{}
			for _, id := range ids {
				k := strings.ToUpper(id)
				if k == "" || seen[k] {
					continue
				}
				seen[k] = true
				x.byID[k] = append(x.byID[k], ref)
			}
		}
	}
	return x
}

// suppression returns the suppression the latest applicable statement
// about f gives, or nil when there is none or it does not suppress.
func (x *vexIndex) suppression(f *finding.Finding) *finding.Suppression {
	if len(x.byID) == 0 {
		return nil
	}
	var best *vexRef
	seen := map[[2]int]bool{}
	for _, id := range append([]string{f.ID}, f.Aliases...) {
		for _, r := range x.byID[strings.ToUpper(id)] {
			if seen[[2]int{r.doc, r.stmt}] {
				continue
			}
			seen[[2]int{r.doc, r.stmt}] = true
			if !r.s.appliesTo(f, x.digests) {
				continue
			}
			if best == nil || r.later(best) {
				best = &r
			}
		}
	}
	if best == nil || !suppresses(best.s.Status) {
		return nil
	}
	return &finding.Suppression{
		Kind:          finding.SuppressedByVEX,
		Status:        best.s.Status,
		Justification: best.s.Justification,
		Statement:     best.s.Impact,
		Source:        best.v.Source,
	}
}

// later orders statements: by time, then by document and position, so a
// later statement overrides an earlier one about the same thing.
func (r *vexRef) later(than *vexRef) bool {
	if c := r.s.Time.Compare(than.s.Time); c != 0 {
		return c > 0
	}
	if r.doc != than.doc {
		return r.doc > than.doc
	}
	return r.stmt > than.stmt
}

// appliesTo reports whether s is about f's package.
func (s *Statement) appliesTo(f *finding.Finding, digests []string) bool {
	for i := range s.Products {
		p := &s.Products[i]
		if len(p.Subcomponents) > 0 {
			// The product is the context (the image, or the application
			// whose dependency the subcomponent is); only an image's
			// digest can be checked.
			if p.Image && !imageMatches(p, digests) {
				continue
			}
			for j := range p.Subcomponents {
				if p.Subcomponents[j].matchesPackage(f) {
					return true
				}
			}
			continue
		}
		if p.Image {
			if imageMatches(p, digests) {
				return true
			}
			continue
		}
		if p.matchesPackage(f) {
			return true
		}
	}
	return false
}

func (p *Product) matchesPackage(f *finding.Finding) bool {
	return p.purl != nil && packageMatchesPURL(&f.Package, p.purl)
}

func imageMatches(p *Product, digests []string) bool {
	return p.Digest == "" || len(digests) == 0 || slices.Contains(digests, p.Digest)
}
