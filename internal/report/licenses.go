package report

import (
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/github/go-spdx/v2/spdxexp"

	"github.com/drydockscan/drydock/internal/license"
)

// spdxExpression is the SPDX expression of a package's declared
// licences (each normalised, joined with AND), or "" when one of them is
// not a listed SPDX licence (a LicenseRef would need its text in the
// document).
func spdxExpression(declared []string) string {
	var parts []string
	for _, d := range declared {
		n := license.Normalize(d)
		if n == "" || strings.Contains(n, "LicenseRef-") || strings.Contains(n, "DocumentRef-") {
			return ""
		}
		if strings.ContainsAny(n, " ") && len(declared) > 1 {
			n = "(" + n + ")"
		}
		parts = append(parts, n)
	}
	return strings.Join(parts, " AND ")
}

// cdxLicenses writes declared licences the CycloneDX way: SPDX ids where
// each normalises to one listed id, one SPDX expression where some are
// expressions, and names as declared otherwise.
func cdxLicenses(declared []string) cdx.Licenses {
	var ids []string
	simple := true
	for _, d := range declared {
		n := license.Normalize(d)
		if ok, id := spdxexp.ActiveLicense(n); n != "" && ok {
			ids = append(ids, id)
			continue
		}
		simple = false
		break
	}
	if simple && len(ids) > 0 {
		var lc cdx.Licenses
		for _, id := range ids {
			lc = append(lc, cdx.LicenseChoice{License: &cdx.License{ID: id}})
		}
		return lc
	}
	if expr := spdxExpression(declared); expr != "" {
		return cdx.Licenses{{Expression: expr}}
	}
	var lc cdx.Licenses
	for _, l := range declared {
		lc = append(lc, cdx.LicenseChoice{License: &cdx.License{Name: l}})
	}
	return lc
}
