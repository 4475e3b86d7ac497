// Package sbom reads SBOMs that clients send into drydock inventories.
package sbom

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/report"
)

// The parts of a CycloneDX JSON SBOM (any 1.x) an inventory is read from.
type cdxBOM struct {
	BOMFormat  string         `json:"bomFormat"`
	Metadata   *cdxMeta       `json:"metadata"`
	Components []cdxComponent `json:"components"`
}

type cdxMeta struct {
	Component *cdxComponent `json:"component"`
}

type cdxComponent struct {
	Type       string         `json:"type"`
	Name       string         `json:"name"`
	Version    string         `json:"version"`
	PURL       string         `json:"purl"`
	Licenses   []cdxLicense   `json:"licenses"`
	Properties []cdxProperty  `json:"properties"`
	Components []cdxComponent `json:"components"`
}

type cdxLicense struct {
	License *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"license"`
	Expression string `json:"expression"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (c *cdxComponent) prop(name string) string {
	for _, p := range c.Properties {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// maxComponents bounds an SBOM's components (nested ones included).
const maxComponents = 200000

// FromCycloneDX reads a CycloneDX JSON SBOM into a target and an
// inventory: every component with a package URL is a package; an
// operating-system component gives the OS. The properties drydock writes
// (drydock:path, drydock:layer:diff_id, …) are read back when present.
func FromCycloneDX(data []byte) (report.Target, *inventory.Inventory, error) {
	var bom cdxBOM
	var t report.Target
	if err := json.Unmarshal(data, &bom); err != nil {
		return t, nil, fmt.Errorf("CycloneDX: %w", err)
	}
	if bom.BOMFormat != "CycloneDX" {
		return t, nil, errors.New("CycloneDX: bomFormat is not \"CycloneDX\"")
	}
	t.Kind = "sbom"
	if m := bom.Metadata; m != nil && m.Component != nil {
		c := m.Component
		t.Name, t.Ref = c.Name, c.Name
		if strings.HasPrefix(c.Version, "sha256:") {
			t.ManifestDigest = c.Version
		}
		t.ConfigDigest = c.prop("drydock:image:config_digest")
		t.Platform = c.prop("drydock:image:platform")
	}
	inv := &inventory.Inventory{Packages: []inventory.Package{}}
	n := 0
	var walk func(cs []cdxComponent, depth int) error
	walk = func(cs []cdxComponent, depth int) error {
		if depth > 32 {
			return errors.New("CycloneDX: components nested deeper than 32")
		}
		for i := range cs {
			c := &cs[i]
			if n++; n > maxComponents {
				return fmt.Errorf("CycloneDX: more than %d components", maxComponents)
			}
			if c.Type == "operating-system" && inv.OS == nil {
				inv.OS = &inventory.OS{ID: strings.ToLower(c.Name), VersionID: c.Version}
			}
			if c.PURL != "" {
				p, err := cdxPackage(c)
				if err != nil {
					return err
				}
				inv.Packages = append(inv.Packages, p)
			}
			if err := walk(c.Components, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(bom.Components, 0); err != nil {
		return t, nil, err
	}
	inv.Sort()
	return t, inv, nil
}

func cdxPackage(c *cdxComponent) (inventory.Package, error) {
	u, err := packageurl.FromString(c.PURL)
	if err != nil {
		return inventory.Package{}, fmt.Errorf("CycloneDX component %q: purl %q: %w", c.Name, c.PURL, err)
	}
	q := u.Qualifiers.Map()
	p := inventory.Package{Type: u.Type, Name: u.Name, Version: u.Version, PURL: c.PURL, Arch: q["arch"]}
	switch u.Type {
	case inventory.TypeNPM, inventory.TypeGo, inventory.TypeComposer:
		if u.Namespace != "" {
			p.Name = u.Namespace + "/" + u.Name
		}
	case inventory.TypeMaven:
		if u.Namespace != "" {
			p.Name = u.Namespace + ":" + u.Name
		}
	case inventory.TypePyPI:
		// The purl's name is normalised; the component keeps the
		// project's own spelling.
		if strings.EqualFold(strings.ReplaceAll(c.Name, "_", "-"), u.Name) {
			p.Name = c.Name
		}
	case inventory.TypeRPM:
		if e := q["epoch"]; e != "" {
			p.Version = e + ":" + p.Version
		}
	}
	if p.Version == "" {
		p.Version = c.Version
	}
	if up := q["upstream"]; up != "" {
		p.SourceName, p.SourceVersion, _ = strings.Cut(up, "@")
	}
	if s := c.prop("drydock:package:source_name"); s != "" {
		p.SourceName = s
	}
	if s := c.prop("drydock:package:source_version"); s != "" {
		p.SourceVersion = s
	}
	p.Path = c.prop("drydock:path")
	p.Layer = c.prop("drydock:layer:diff_id")
	if s := c.prop("drydock:layer:index"); s != "" {
		p.LayerIndex, _ = strconv.Atoi(s)
	}
	p.OwnedBy = c.prop("drydock:package:owned_by")
	p.Dev = c.prop("drydock:package:dev") == "true"
	for _, l := range c.Licenses {
		switch {
		case l.License != nil && l.License.ID != "":
			p.Licenses = append(p.Licenses, l.License.ID)
		case l.License != nil && l.License.Name != "":
			p.Licenses = append(p.Licenses, l.License.Name)
		case l.Expression != "":
			p.Licenses = append(p.Licenses, l.Expression)
		}
	}
	return p, nil
}
