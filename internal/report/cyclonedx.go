package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
)

// Property names drydock adds to CycloneDX components.
const (
	propLayerDiffID = "drydock:layer:diff_id"
	propLayerIndex  = "drydock:layer:index"
	// propPath and propLayer* give the primary location; every location
	// is in the component's evidence.occurrences.
	propPath       = "drydock:path"
	propSourceName = "drydock:package:source_name"
	propSourceVer  = "drydock:package:source_version"
	propOwnedBy    = "drydock:package:owned_by"
	propDev        = "drydock:package:dev"
	propDeclared   = "drydock:package:declared"
	propType       = "drydock:package:type"
	// propInUse: a recorded run used the package (--runtime-events).
	propInUse = "drydock:package:in_use"
)

// WriteCycloneDX writes a CycloneDX 1.6 JSON SBOM, with the findings as
// its vulnerabilities when a database was used. The serial number is
// derived from the inventory, so the same inventory gives the same bytes.
func WriteCycloneDX(w io.Writer, r *Report, _ Options) error {
	return encodeCycloneDX(w, CycloneDXBOM(r))
}

func encodeCycloneDX(w io.Writer, bom *cdx.BOM) error {
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return fmt.Errorf("cyclonedx report: %w", err)
	}
	return nil
}

// CycloneDXBOM builds the BOM document: the image as metadata component,
// the OS and every package as components, and the findings (if any) as
// vulnerabilities whose affects point at the components.
func CycloneDXBOM(r *Report) *cdx.BOM {
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + contentUUID(r)
	target := targetComponent(r)
	bom.Metadata = &cdx.Metadata{
		Tools:     cdxTools(r),
		Component: &target,
	}
	var comps []cdx.Component
	var deps []string
	if r.OS != nil {
		c := cdx.Component{
			BOMRef:      "os:" + r.OS.ID + "@" + r.OS.VersionID,
			Type:        cdx.ComponentTypeOS,
			Name:        r.OS.ID,
			Version:     r.OS.VersionID,
			Description: r.OS.PrettyName,
		}
		comps = append(comps, c)
		deps = append(deps, c.BOMRef)
	}
	refs := componentRefs(r)
	for i, p := range r.Packages {
		c := packageComponent(&p)
		c.BOMRef = refs.byIndex[i]
		comps = append(comps, c)
		deps = append(deps, c.BOMRef)
	}
	bom.Components = &comps
	bom.Dependencies = &[]cdx.Dependency{{Ref: target.BOMRef, Dependencies: &deps}}
	if len(r.Vulnerabilities) > 0 {
		vulns := cdxVulnerabilities(r, refs.ref)
		bom.Vulnerabilities = &vulns
	}
	return bom
}

func cdxTools(r *Report) *cdx.ToolsChoice {
	return &cdx.ToolsChoice{Components: &[]cdx.Component{{
		Type: cdx.ComponentTypeApplication, Name: r.Tool.Name, Version: r.Tool.Version,
	}}}
}

// bomRefs are the packages' bom-refs: the purl, with "#n" added to the
// n-th repeat of a purl (the same package in several projects: two
// applications' copies of one jar).
type bomRefs struct {
	byIndex []string
	// byPackage maps purl and each location's path to the bom-ref.
	byPackage map[string]string
}

func componentRefs(r *Report) bomRefs {
	b := bomRefs{byIndex: make([]string, len(r.Packages)), byPackage: map[string]string{}}
	seen := map[string]int{}
	for i := range r.Packages {
		p := &r.Packages[i]
		ref := p.PURL
		if n := seen[ref]; n > 0 {
			ref = fmt.Sprintf("%s#%d", p.PURL, n)
		}
		seen[p.PURL]++
		b.byIndex[i] = ref
		for _, l := range p.AllLocations() {
			key := p.PURL + "\x00" + l.Path
			if _, ok := b.byPackage[key]; !ok {
				b.byPackage[key] = ref
			}
		}
	}
	return b
}

// ref is the bom-ref of a finding's package, found by any of its
// locations; a package the inventory does not list (which the matcher
// never produces) is referred to by its purl.
func (b bomRefs) ref(f *finding.Finding) string {
	for _, l := range f.Package.AllLocations() {
		if ref, ok := b.byPackage[f.Package.PURL+"\x00"+l.Path]; ok {
			return ref
		}
	}
	return f.Package.PURL
}

func targetComponent(r *Report) cdx.Component {
	name := r.Target.Name
	if name == "" {
		name = r.Target.Ref
	}
	c := cdx.Component{BOMRef: "target", Type: cdx.ComponentTypeContainer, Name: name, Version: r.Target.ManifestDigest}
	if r.Target.Kind == "dir" {
		c.Type = cdx.ComponentTypeFile
	}
	var props []cdx.Property
	add := func(k, v string) {
		if v != "" {
			props = append(props, cdx.Property{Name: k, Value: v})
		}
	}
	add("drydock:image:config_digest", r.Target.ConfigDigest)
	add("drydock:image:index_digest", r.Target.IndexDigest)
	add("drydock:image:platform", r.Target.Platform)
	for _, l := range r.Target.Layers {
		add("drydock:image:layer", l.DiffID)
	}
	if len(props) > 0 {
		c.Properties = &props
	}
	return c
}

func packageComponent(p *inventory.Package) cdx.Component {
	c := cdx.Component{Type: cdx.ComponentTypeLibrary, Name: p.Name, Version: p.Version, PackageURL: p.PURL}
	switch p.Type {
	case inventory.TypeMaven:
		if g, a, ok := strings.Cut(p.Name, ":"); ok {
			c.Group, c.Name = g, a
		}
	case inventory.TypeNPM:
		if strings.HasPrefix(p.Name, "@") {
			if g, a, ok := strings.Cut(p.Name, "/"); ok {
				c.Group, c.Name = g, a
			}
		}
	}
	if len(p.Licenses) > 0 {
		lc := cdxLicenses(p.Licenses)
		c.Licenses = &lc
	}
	var props []cdx.Property
	add := func(k, v string) {
		if v != "" {
			props = append(props, cdx.Property{Name: k, Value: v})
		}
	}
	add(propType, p.Type)
	add(propPath, p.Path)
	if p.Layer != "" {
		add(propLayerDiffID, p.Layer)
		add(propLayerIndex, strconv.Itoa(p.LayerIndex))
	}
	add(propSourceName, p.SourceName)
	add(propSourceVer, p.SourceVersion)
	add(propOwnedBy, p.OwnedBy)
	if p.Dev {
		add(propDev, "true")
	}
	if p.Declared {
		add(propDeclared, "true")
	}
	if p.InUse {
		add(propInUse, "true")
	}
	c.Properties = &props
	c.Evidence = &cdx.Evidence{Occurrences: occurrences(p)}
	return c
}

// occurrences lists every place a package was found, the primary one
// first, with the layer that brought each file.
func occurrences(p *inventory.Package) *[]cdx.EvidenceOccurrence {
	var out []cdx.EvidenceOccurrence
	for _, l := range p.AllLocations() {
		o := cdx.EvidenceOccurrence{Location: l.Path}
		if l.Layer != "" {
			o.AdditionalContext = "layer " + strconv.Itoa(l.LayerIndex) + " " + l.Layer
		}
		out = append(out, o)
	}
	return &out
}

// contentUUID derives a version-5-style UUID from the report's identity,
// so repeated scans of the same image produce the same serial number.
func contentUUID(r *Report) string { return contentUUIDSalted(r, "") }

// contentUUIDSalted is contentUUID for another document about the same
// inventory (the VEX document), told apart by salt.
func contentUUIDSalted(r *Report, salt string) string {
	h := sha256.New()
	h.Write([]byte(salt))
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", r.Tool.Name, r.Tool.Version, r.Target.Ref, r.Target.ManifestDigest)
	for _, p := range r.Packages {
		fmt.Fprintf(h, "%s\x00%s\x00", p.PURL, p.Path)
	}
	b := h.Sum(nil)[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	s := hex.EncodeToString(b)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}
