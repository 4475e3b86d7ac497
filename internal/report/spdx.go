package report

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/drydockscan/drydock/internal/inventory"
)

// WriteSPDX writes an SPDX 2.3 JSON document.
func WriteSPDX(w io.Writer, r *Report, _ Options) error {
	return spdxjson.Write(SPDXDocument(r), w, spdxjson.Indent("  "), spdxjson.EscapeHTML(false))
}

var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// SPDXDocument builds the SPDX document. Its creation time is the image's
// creation time (or SOURCE_DATE_EPOCH), so repeated scans give the same
// bytes; only a directory scan without SOURCE_DATE_EPOCH uses the clock.
func SPDXDocument(r *Report) *spdx.Document {
	name := r.Target.Name
	if name == "" {
		name = r.Target.Ref
	}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: "https://github.com/drydockscan/drydock/spdx/" + spdxIDUnsafe.ReplaceAllString(name, "-") + "-" + contentUUID(r),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: r.Tool.Name + "-" + r.Tool.Version}},
			Created:  creationTime(r),
		},
	}
	root := &spdx.Package{
		PackageName:             name,
		PackageSPDXIdentifier:   "Image",
		PackageVersion:          r.Target.ManifestDigest,
		PackageDownloadLocation: "NOASSERTION",
		PrimaryPackagePurpose:   "CONTAINER",
		PackageLicenseConcluded: "NOASSERTION",
		PackageLicenseDeclared:  "NOASSERTION",
		PackageCopyrightText:    "NOASSERTION",
	}
	if r.Target.Kind == "dir" {
		root.PrimaryPackagePurpose = "SOURCE"
	}
	doc.Packages = append(doc.Packages, root)
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA: common.MakeDocElementID("", "DOCUMENT"), RefB: common.MakeDocElementID("", "Image"), Relationship: "DESCRIBES",
	})
	if r.OS != nil {
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName:             r.OS.ID,
			PackageSPDXIdentifier:   "OperatingSystem",
			PackageVersion:          r.OS.VersionID,
			PackageDownloadLocation: "NOASSERTION",
			PrimaryPackagePurpose:   "OPERATING_SYSTEM",
			PackageLicenseConcluded: "NOASSERTION",
			PackageLicenseDeclared:  "NOASSERTION",
			PackageCopyrightText:    "NOASSERTION",
			PackageDescription:      r.OS.PrettyName,
		})
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", "Image"), RefB: common.MakeDocElementID("", "OperatingSystem"), Relationship: "CONTAINS",
		})
	}
	for i := range r.Packages {
		p := &r.Packages[i]
		id := common.ElementID(fmt.Sprintf("Package-%d-%s", i+1, spdxIDUnsafe.ReplaceAllString(p.Type+"-"+p.Name, "-")))
		sp := &spdx.Package{
			PackageName:             p.Name,
			PackageSPDXIdentifier:   id,
			PackageVersion:          p.Version,
			PackageDownloadLocation: "NOASSERTION",
			FilesAnalyzed:           false,
			PrimaryPackagePurpose:   "LIBRARY",
			PackageLicenseConcluded: "NOASSERTION",
			PackageLicenseDeclared:  "NOASSERTION",
			PackageCopyrightText:    "NOASSERTION",
			PackageSourceInfo:       sourceInfo(p),
			PackageExternalReferences: []*spdx.PackageExternalReference{{
				Category: "PACKAGE-MANAGER", RefType: "purl", Locator: p.PURL,
			}},
		}
		if len(p.Licenses) > 0 {
			sp.PackageLicenseComments = "declared by the package: " + strings.Join(p.Licenses, "; ")
			if expr := spdxExpression(p.Licenses); expr != "" {
				sp.PackageLicenseDeclared = expr
			}
		}
		// One annotation per location, the primary one first.
		for i, l := range p.AllLocations() {
			comment := "path " + l.Path
			if l.Layer != "" {
				comment = "layer " + strconv.Itoa(l.LayerIndex) + " " + l.Layer + "; " + comment
			}
			if i == 0 {
				comment += ownerNote(p.OwnedBy)
			}
			sp.Annotations = append(sp.Annotations, spdx.Annotation{
				Annotator:         common.Annotator{AnnotatorType: "Tool", Annotator: r.Tool.Name + "-" + r.Tool.Version},
				AnnotationDate:    doc.CreationInfo.Created,
				AnnotationType:    "OTHER",
				AnnotationComment: comment,
			})
		}
		doc.Packages = append(doc.Packages, sp)
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", "Image"), RefB: common.MakeDocElementID("", string(id)), Relationship: "CONTAINS",
		})
	}
	return doc
}

// sourceInfo says where the package was found: every location, the
// primary one first.
func sourceInfo(p *inventory.Package) string {
	var parts []string
	for _, l := range p.AllLocations() {
		s := l.Path
		if l.Layer != "" {
			s += " in layer " + l.Layer
		}
		parts = append(parts, s)
	}
	return "found at " + strings.Join(parts, "; ")
}

func creationTime(r *Report) string {
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.Unix(n, 0).UTC().Format(time.RFC3339)
		}
	}
	if r.Target.Created != "" {
		if t, err := time.Parse(time.RFC3339Nano, r.Target.Created); err == nil && t.Year() > 1970 {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return time.Now().UTC().Format(time.RFC3339)
}

// ownerNote records the OS package that installed a language package, so
// an SPDX document read back (drydock sbom) matches it as the scan did.
func ownerNote(owner string) string {
	if owner == "" {
		return ""
	}
	return "; owned by " + owner
}
