package sbom

import (
	"bytes"
	"fmt"
	"strconv"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/drydockscan/drydock/internal/inventory"
)

// CycloneDX properties drydock writes (internal/report/cyclonedx.go).
const (
	propLayerDiffID = "drydock:layer:diff_id"
	propLayerIndex  = "drydock:layer:index"
	propPath        = "drydock:path"
	propSourceName  = "drydock:package:source_name"
	propSourceVer   = "drydock:package:source_version"
	propOwnedBy     = "drydock:package:owned_by"
	propDev         = "drydock:package:dev"
	propImageLayer  = "drydock:image:layer"
)

func readCycloneDX(b []byte, format string) (*Document, error) {
	ff := cdx.BOMFileFormatJSON
	if format == FormatCycloneDXXML {
		ff = cdx.BOMFileFormatXML
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), ff).Decode(&bom); err != nil {
		return nil, fmt.Errorf("invalid BOM: %w", err)
	}
	d := &Document{}
	var osComp *inventory.OS
	if bom.Metadata != nil && bom.Metadata.Component != nil {
		c := bom.Metadata.Component
		d.Name = c.Name
		if len(c.Version) > 7 && c.Version[:7] == "sha256:" {
			d.Digest = c.Version
		}
		for _, p := range props(c) {
			if p.Name == propImageLayer {
				d.Inventory.Layers = append(d.Inventory.Layers, inventory.Layer{Index: len(d.Inventory.Layers), DiffID: p.Value})
			}
		}
	}
	var distros []*inventory.OS
	var walk func(cs *[]cdx.Component, depth int) error
	walk = func(cs *[]cdx.Component, depth int) error {
		if cs == nil {
			return nil
		}
		if depth > maxDepth {
			return fmt.Errorf("components nested deeper than %d", maxDepth)
		}
		for i := range *cs {
			c := &(*cs)[i]
			if c.Type == cdx.ComponentTypeOS && osComp == nil {
				osComp = &inventory.OS{ID: c.Name, VersionID: c.Version, PrettyName: c.Description}
			}
			if c.PackageURL != "" {
				if len(d.Inventory.Packages) >= MaxPackages {
					return fmt.Errorf("more than %d packages", MaxPackages)
				}
				p, distro, ns, err := fromPURL(c.PackageURL)
				if err != nil {
					d.skip(err.Error())
				} else {
					preferName(&p, c.Name, c.Group)
					applyProps(&p, c)
					p.Licenses = append(p.Licenses, licences(c.Licenses)...)
					d.Inventory.Packages = append(d.Inventory.Packages, p)
					if inventory.IsOS(p.Type) {
						if o := osFromDistro(distro, ns); o != nil {
							distros = append(distros, o)
						}
					}
				}
			} else if c.Type != cdx.ComponentTypeOS {
				d.skip("component without purl")
			}
			if err := walk(c.Components, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(bom.Components, 0); err != nil {
		return nil, err
	}
	d.Inventory.OS = pickOS(osComp, distros)
	return d, nil
}

func props(c *cdx.Component) []cdx.Property {
	if c.Properties == nil {
		return nil
	}
	return *c.Properties
}

func applyProps(p *inventory.Package, c *cdx.Component) {
	for _, pr := range props(c) {
		switch pr.Name {
		case propPath:
			p.Path = pr.Value
		case propLayerDiffID:
			p.Layer = pr.Value
		case propLayerIndex:
			if n, err := strconv.Atoi(pr.Value); err == nil && n >= 0 {
				p.LayerIndex = n
			}
		case propSourceName:
			p.SourceName = pr.Value
		case propSourceVer:
			p.SourceVersion = pr.Value
		case propOwnedBy:
			p.OwnedBy = pr.Value
		case propDev:
			p.Dev = pr.Value == "true"
		}
	}
}

func licences(l *cdx.Licenses) []string {
	if l == nil {
		return nil
	}
	var out []string
	for _, c := range *l {
		switch {
		case c.License != nil && c.License.ID != "":
			out = append(out, c.License.ID)
		case c.License != nil && c.License.Name != "":
			out = append(out, c.License.Name)
		case c.Expression != "":
			out = append(out, c.Expression)
		}
	}
	return out
}

// pickOS prefers the document's operating-system component, completed by
// the purls' distro qualifier (which may carry the point release), and
// else the distro the OS packages' purls name most.
func pickOS(comp *inventory.OS, distros []*inventory.OS) *inventory.OS {
	var best *inventory.OS
	count := map[string]int{}
	for _, o := range distros {
		k := o.ID + "\x00" + o.VersionID + "\x00" + o.Version
		count[k]++
		if best == nil || count[k] > count[best.ID+"\x00"+best.VersionID+"\x00"+best.Version] {
			best = o
		}
	}
	if comp == nil {
		return best
	}
	if best != nil && best.ID == comp.ID {
		if comp.VersionID == "" {
			comp.VersionID = best.VersionID
		}
		if comp.Version == "" && best.Version != "" && best.VersionID == comp.VersionID {
			comp.Version = best.Version
		}
		if comp.Codename == "" {
			comp.Codename = best.Codename
		}
	}
	return comp
}
