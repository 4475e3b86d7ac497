package sbom

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/tagvalue"

	"github.com/drydockscan/drydock/internal/inventory"
)

func readSPDX(b []byte, format string) (*Document, error) {
	var doc *spdx.Document
	var err error
	if format == FormatSPDXJSON {
		doc, err = spdxjson.Read(bytes.NewReader(b))
	} else {
		doc, err = tagvalue.Read(bytes.NewReader(b))
	}
	if err != nil {
		return nil, fmt.Errorf("invalid document: %w", err)
	}
	if doc == nil {
		return nil, fmt.Errorf("empty document")
	}
	if len(doc.Packages) > MaxPackages {
		return nil, fmt.Errorf("more than %d packages", MaxPackages)
	}
	d := &Document{Name: doc.DocumentName}
	// Tag-value documents keep package annotations at document level.
	docNotes := map[string][]string{}
	for _, a := range doc.Annotations {
		if a != nil {
			id := string(a.AnnotationSPDXIdentifier.ElementRefID)
			docNotes[id] = append(docNotes[id], a.AnnotationComment)
		}
	}
	var osPkg *inventory.OS
	var distros []*inventory.OS
	for _, sp := range doc.Packages {
		if sp == nil {
			continue
		}
		switch {
		case sp.PrimaryPackagePurpose == "OPERATING-SYSTEM" || sp.PrimaryPackagePurpose == "OPERATING_SYSTEM":
			if osPkg == nil {
				osPkg = &inventory.OS{ID: sp.PackageName, VersionID: sp.PackageVersion, PrettyName: sp.PackageDescription}
			}
			continue
		case sp.PrimaryPackagePurpose == "CONTAINER" && sp.PackageSPDXIdentifier == "Image":
			if strings.HasPrefix(sp.PackageVersion, "sha256:") {
				d.Digest = sp.PackageVersion
			}
			continue
		}
		purl := ""
		for _, r := range sp.PackageExternalReferences {
			if r != nil && strings.EqualFold(r.RefType, "purl") {
				purl = r.Locator
				break
			}
		}
		if purl == "" {
			d.skip("package without purl")
			continue
		}
		p, distro, ns, err := fromPURL(purl)
		if err != nil {
			d.skip(err.Error())
			continue
		}
		preferName(&p, sp.PackageName, "")
		// drydock's own SPDX: one annotation per location, the primary one
		// first: "layer N DIFFID; path PATH[; owned by TYPE:NAME]"; the
		// source info "found at PATH in layer DIFFID; PATH2 …" when there
		// are no annotations.
		if rest, ok := strings.CutPrefix(sp.PackageSourceInfo, "found at "); ok {
			first, _, _ := strings.Cut(rest, "; ")
			if i := strings.LastIndex(first, " in layer "); i >= 0 {
				p.Path, p.Layer = first[:i], first[i+len(" in layer "):]
			} else {
				p.Path = first
			}
		}
		notes := docNotes[string(sp.PackageSPDXIdentifier)]
		for _, a := range sp.Annotations {
			notes = append(notes, a.AnnotationComment)
		}
		var locs []inventory.Location
		for _, note := range notes {
			if l, ok := locationNote(note); ok {
				locs = append(locs, l)
			}
			if _, owner, ok := strings.Cut(note, "; owned by "); ok && p.OwnedBy == "" {
				p.OwnedBy, _, _ = strings.Cut(owner, ";")
			}
		}
		if len(locs) > 0 {
			p.Path, p.Layer, p.LayerIndex = locs[0].Path, locs[0].Layer, locs[0].LayerIndex
			if len(locs) > 1 {
				p.Locations = locs
			}
		}
		if lic, ok := strings.CutPrefix(sp.PackageLicenseComments, "declared by the package: "); ok {
			p.Licenses = strings.Split(lic, "; ")
		} else if l := sp.PackageLicenseDeclared; l != "" && l != "NOASSERTION" && l != "NONE" {
			p.Licenses = []string{l}
		}
		d.Inventory.Packages = append(d.Inventory.Packages, p)
		if o := osFromDistro(distro, ns); o != nil && inventory.IsOS(p.Type) {
			distros = append(distros, o)
		}
	}
	d.Inventory.OS = pickOS(osPkg, distros)
	return d, nil
}

// locationNote reads drydock's location annotation "layer N DIFFID; path
// PATH[; …]" (or "path PATH[; …]" for a directory scan).
func locationNote(note string) (inventory.Location, bool) {
	var l inventory.Location
	rest := note
	if r, ok := strings.CutPrefix(rest, "layer "); ok {
		n, after, ok := strings.Cut(r, " ")
		if !ok {
			return l, false
		}
		i, err := strconv.Atoi(n)
		if err != nil || i < 0 {
			return l, false
		}
		l.LayerIndex = i
		l.Layer, rest, ok = strings.Cut(after, "; ")
		if !ok {
			return l, false
		}
	}
	path, ok := strings.CutPrefix(rest, "path ")
	if !ok {
		return l, false
	}
	l.Path, _, _ = strings.Cut(path, "; owned by ")
	return l, l.Path != ""
}
