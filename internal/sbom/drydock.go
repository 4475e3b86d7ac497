package sbom

import (
	"encoding/json"
	"fmt"

	"github.com/drydockscan/drydock/internal/inventory"
)

// drydockReport is the part of drydock's JSON report (drydock.report/v1)
// an inventory is read from.
type drydockReport struct {
	Target struct {
		Ref            string            `json:"ref"`
		Name           string            `json:"name"`
		ManifestDigest string            `json:"manifest_digest"`
		Layers         []inventory.Layer `json:"layers"`
	} `json:"target"`
	OS       *inventory.OS       `json:"os"`
	Packages []inventory.Package `json:"packages"`
}

func readDrydock(b []byte) (*Document, error) {
	var r drydockReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("invalid report: %w", err)
	}
	if len(r.Packages) > MaxPackages {
		return nil, fmt.Errorf("more than %d packages", MaxPackages)
	}
	d := &Document{Name: r.Target.Name, Digest: r.Target.ManifestDigest}
	if d.Name == "" {
		d.Name = r.Target.Ref
	}
	d.Inventory.OS = r.OS
	d.Inventory.Layers = r.Target.Layers
	for _, p := range r.Packages {
		if p.Type == "" || p.Name == "" {
			d.skip("package without type or name")
			continue
		}
		if p.PURL == "" {
			p.PURL = inventory.PURL(&p, r.OS)
		}
		d.Inventory.Packages = append(d.Inventory.Packages, p)
	}
	return d, nil
}
