// Package license normalises the licences packages declare to SPDX
// identifiers and expressions (parsed with github/go-spdx), puts each into
// a category (forbidden, restricted, reciprocal, notice, permissive,
// unencumbered, unknown) and turns them into findings under a licence
// policy: deny and allow lists and a severity per category.
package license

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/github/go-spdx/v2/spdxexp"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
)

// Categories, from most to least encumbering.
const (
	Forbidden    = "forbidden"
	Restricted   = "restricted"
	Reciprocal   = "reciprocal"
	Notice       = "notice"
	Permissive   = "permissive"
	Unencumbered = "unencumbered"
	Unknown      = "unknown"
)

// CategoryOrder lists the categories from most to least encumbering.
func CategoryOrder() []string {
	return []string{Forbidden, Restricted, Reciprocal, Notice, Permissive, Unencumbered, Unknown}
}

func categoryRank(c string) int {
	if i := slices.Index(CategoryOrder(), c); i >= 0 && c != Unknown {
		return len(CategoryOrder()) - i
	}
	return 0
}

// DefaultSeverities maps categories to finding severities.
func DefaultSeverities() map[string]finding.Severity {
	return map[string]finding.Severity{
		Forbidden: finding.Critical, Restricted: finding.High, Reciprocal: finding.Medium,
		Notice: finding.Low, Permissive: finding.Low, Unencumbered: finding.Negligible, Unknown: finding.Unknown,
	}
}

// categories maps SPDX ids (and id prefixes ending in "-") to categories.
var categoryPrefixes = []struct {
	prefix, category string
}{
	{"AGPL-", Forbidden}, {"SSPL-", Forbidden}, {"CC-BY-NC", Forbidden}, {"Commons-Clause", Forbidden},
	{"BUSL-", Forbidden}, {"Elastic-2.0", Forbidden},
	{"GPL-", Restricted}, {"CC-BY-SA-", Restricted}, {"OSL-", Restricted}, {"QPL-", Restricted}, {"Sleepycat", Restricted},
	{"LGPL-", Reciprocal}, {"LGPLLR", Reciprocal}, {"MPL-", Reciprocal}, {"EPL-", Reciprocal}, {"CDDL-", Reciprocal},
	{"CPL-", Reciprocal}, {"EUPL-", Reciprocal}, {"APSL-", Reciprocal}, {"Ruby", Reciprocal}, {"CECILL-", Reciprocal},
	{"Apache-", Notice}, {"MIT", Notice}, {"BSD-", Notice}, {"0BSD", Unencumbered}, {"ISC", Notice}, {"Zlib", Notice},
	{"Python-", Notice}, {"PSF-", Notice}, {"Artistic-", Notice}, {"X11", Notice}, {"curl", Notice}, {"OpenSSL", Notice},
	{"PHP-", Notice}, {"FTL", Notice}, {"Libpng", Notice}, {"libpng-", Notice}, {"IJG", Notice}, {"NCSA", Notice},
	{"W3C", Notice}, {"BeOpen", Notice}, {"CNRI-", Notice}, {"OLDAP-", Notice}, {"RSA-MD", Notice}, {"MIT-CMU", Notice}, {"SSLeay", Notice}, {"Spencer-", Notice}, {"HPND", Notice}, {"MS-PL", Notice}, {"bzip2-", Notice}, {"Unicode-", Notice}, {"ICU", Notice},
	{"OFL-", Notice}, {"CC-BY-", Notice}, {"PostgreSQL", Notice}, {"TCL", Notice}, {"BlueOak-", Permissive},
	{"BSL-1.0", Permissive}, {"WTFPL", Permissive}, {"MIT-0", Unencumbered}, {"CC0-", Unencumbered},
	{"Unlicense", Unencumbered}, {"LicenseRef-public-domain", Unencumbered},
}

// Category returns the category of one SPDX licence id.
func Category(id string) string {
	id = strings.TrimSuffix(id, "+")
	best, bestLen := Unknown, 0
	for _, c := range categoryPrefixes {
		if strings.HasPrefix(id, c.prefix) && len(c.prefix) > bestLen {
			best, bestLen = c.category, len(c.prefix)
		}
	}
	return best
}

// aliases maps licence names packages write (Debian copyright short names,
// common spellings) to SPDX ids, by lower-case name.
var aliases = map[string]string{
	"gpl": "GPL-1.0-or-later", "gpl+": "GPL-1.0-or-later", "gpl-1": "GPL-1.0-only", "gpl-1+": "GPL-1.0-or-later",
	"gpl-2": "GPL-2.0-only", "gpl-2+": "GPL-2.0-or-later", "gpl-3": "GPL-3.0-only", "gpl-3+": "GPL-3.0-or-later",
	"gplv2": "GPL-2.0-only", "gplv2+": "GPL-2.0-or-later", "gplv3": "GPL-3.0-only", "gplv3+": "GPL-3.0-or-later",
	"lgpl": "LGPL-2.0-or-later", "lgpl-2": "LGPL-2.0-only", "lgpl-2+": "LGPL-2.0-or-later", "lgpl-2.1": "LGPL-2.1-only",
	"lgpl-2.1+": "LGPL-2.1-or-later", "lgpl-3": "LGPL-3.0-only", "lgpl-3+": "LGPL-3.0-or-later",
	"agpl-3": "AGPL-3.0-only", "agpl-3+": "AGPL-3.0-or-later", "agplv3": "AGPL-3.0-only",
	"expat": "MIT", "mit/x11": "MIT", "x11": "X11", "mit license": "MIT", "the mit license": "MIT",
	"bsd-2-clause": "BSD-2-Clause", "bsd-3-clause": "BSD-3-Clause", "bsd-4-clause": "BSD-4-Clause", "bsd": "BSD-3-Clause",
	"new bsd": "BSD-3-Clause", "simplified bsd": "BSD-2-Clause", "bsd license": "BSD-3-Clause",
	"apache-2": "Apache-2.0", "apache 2.0": "Apache-2.0", "apache license 2.0": "Apache-2.0", "apache-2.0": "Apache-2.0",
	"apache license, version 2.0": "Apache-2.0", "apache software license": "Apache-2.0", "asl 2.0": "Apache-2.0",
	"artistic": "Artistic-1.0-Perl", "artistic-1": "Artistic-1.0", "artistic-2": "Artistic-2.0",
	"public-domain": "LicenseRef-public-domain", "public domain": "LicenseRef-public-domain", "pd": "LicenseRef-public-domain",
	"zlib": "Zlib", "isc": "ISC", "psf": "PSF-2.0", "psf-2": "PSF-2.0", "python": "Python-2.0", "mpl-1.1": "MPL-1.1", "mpl-2.0": "MPL-2.0",
	"mpl 2.0": "MPL-2.0", "cc0": "CC0-1.0", "cc0-1.0": "CC0-1.0", "unlicense": "Unlicense", "the unlicense": "Unlicense",
	"gfdl-1.2+": "GFDL-1.2-or-later", "gfdl-1.3+": "GFDL-1.3-or-later", "gfdl-1.2": "GFDL-1.2-only", "gfdl-1.3": "GFDL-1.3-only",
	"ssleay": "SSLeay-standalone", "openssl": "OpenSSL", "curl": "curl", "bsl-1.0": "BSL-1.0", "boost": "BSL-1.0",
	"epl-1.0": "EPL-1.0", "epl-2.0": "EPL-2.0", "cddl-1.0": "CDDL-1.0", "sspl": "SSPL-1.0", "sspl-1.0": "SSPL-1.0",
}

var (
	opWords  = regexp.MustCompile(`(?i)\s+(and|or|with)\s+`)
	parens   = regexp.MustCompile(`[()]`)
	spaceRun = regexp.MustCompile(`\s+`)
)

// Normalize turns a declared licence into an SPDX expression, or "" when
// it is not one drydock can read. Debian short names (GPL-2+, Expat,
// BSD-3-clause), common spellings and lower-case operators are accepted.
func Normalize(declared string) string {
	d := strings.TrimSpace(declared)
	if d == "" || len(d) > 512 {
		return ""
	}
	if a, ok := aliases[strings.ToLower(d)]; ok {
		return a
	}
	// Rewrite each operand through the aliases, operators upper case.
	d = parens.ReplaceAllStringFunc(d, func(p string) string { return " " + p + " " })
	d = opWords.ReplaceAllStringFunc(d, func(op string) string { return " " + strings.ToUpper(strings.TrimSpace(op)) + " " })
	d = strings.ReplaceAll(d, ",", " AND ")
	var out []string
	for _, tok := range strings.Fields(d) {
		switch tok {
		case "AND", "OR", "WITH", "(", ")":
			out = append(out, tok)
			continue
		}
		if a, ok := aliases[strings.ToLower(tok)]; ok {
			tok = a
		}
		out = append(out, tok)
	}
	expr := spaceRun.ReplaceAllString(strings.Join(out, " "), " ")
	expr = strings.ReplaceAll(strings.ReplaceAll(expr, "( ", "("), " )", ")")
	norm, invalid := spdxexp.ValidateAndNormalizeLicensesWithOptions([]string{expr}, spdxexp.ValidateLicensesOptions{})
	if len(invalid) > 0 || len(norm) != 1 {
		return ""
	}
	return norm[0]
}

// ExpressionCategory is the category of an SPDX expression: for a choice
// (OR only) the least encumbering operand, else the most encumbering.
func ExpressionCategory(expr string) string {
	ids, err := spdxexp.ExtractLicenses(expr)
	if err != nil || len(ids) == 0 {
		return Unknown
	}
	choice := strings.Contains(expr, " OR ") && !strings.Contains(expr, " AND ")
	cat := ""
	for _, id := range ids {
		c := Category(id)
		switch {
		case cat == "":
			cat = c
		case choice && c != Unknown && (cat == Unknown || categoryRank(c) < categoryRank(cat)):
			cat = c
		case !choice && (c == Unknown || categoryRank(c) > categoryRank(cat)) && cat != Unknown:
			cat = c
		}
	}
	return cat
}

// Options are the licence policy.
type Options struct {
	// Deny lists SPDX ids that are never acceptable (finding
	// license-denied, CRITICAL); Allow, when set, lists the only
	// acceptable ones (others: license-not-allowed, HIGH; allowed ones:
	// license-allowed, NEGLIGIBLE).
	Deny, Allow []string
	// Severities maps categories to severities; missing categories take
	// DefaultSeverities.
	Severities map[string]finding.Severity
	// Categories overrides the category of SPDX ids.
	Categories map[string]string
}

// Validate checks the policy's ids and categories.
func (o *Options) Validate() error {
	for _, id := range append(slices.Clone(o.Deny), o.Allow...) {
		if ok, _ := spdxexp.ActiveLicense(id); !ok && !strings.HasPrefix(id, "LicenseRef-") {
			return fmt.Errorf("licence %q is not an SPDX licence id", id)
		}
	}
	for c := range o.Severities {
		if !slices.Contains(CategoryOrder(), c) {
			return fmt.Errorf("unknown licence category %q (have: %s)", c, strings.Join(CategoryOrder(), ", "))
		}
	}
	for id, c := range o.Categories {
		if !slices.Contains(CategoryOrder(), c) {
			return fmt.Errorf("licence %s: unknown category %q", id, c)
		}
	}
	return nil
}

func (o *Options) category(expr string) string {
	if len(o.Categories) == 0 {
		return ExpressionCategory(expr)
	}
	ids, err := spdxexp.ExtractLicenses(expr)
	if err == nil && len(ids) == 1 {
		if c, ok := o.Categories[ids[0]]; ok {
			return c
		}
	}
	return ExpressionCategory(expr)
}

func (o *Options) severity(cat string) finding.Severity {
	if s, ok := o.Severities[cat]; ok {
		return s
	}
	return DefaultSeverities()[cat]
}

// Findings returns one finding per licence of every package, and the
// summary per licence.
func Findings(inv *inventory.Inventory, o Options) []finding.License {
	out := []finding.License{}
	for i := range inv.Packages {
		p := &inv.Packages[i]
		for _, declared := range p.Licenses {
			out = append(out, o.judge(p, declared))
		}
	}
	slices.SortStableFunc(out, finding.CompareLicenses)
	return slices.CompactFunc(out, func(a, b finding.License) bool { return finding.CompareLicenses(a, b) == 0 })
}

func (o *Options) judge(p *inventory.Package, declared string) finding.License {
	expr := Normalize(declared)
	l := finding.License{Declared: declared, License: expr, Package: finding.Package{
		Type: p.Type, Name: p.Name, Version: p.Version, SourceName: p.SourceName, SourceVersion: p.SourceVersion,
		PURL: p.PURL, Path: p.Path, Layer: p.Layer, LayerIndex: p.LayerIndex, OwnedBy: p.OwnedBy,
	}}
	if expr == "" {
		l.License, l.Category = declared, Unknown
	} else {
		l.Category = o.category(expr)
	}
	l.ID, l.Severity = "license-"+l.Category, o.severity(l.Category)
	l.Title = fmt.Sprintf("%s licence %s", l.Category, l.License)
	ids, _ := spdxexp.ExtractLicenses(expr)
	switch {
	case expr != "" && len(o.Deny) > 0 && o.matchesAny(expr, ids, o.Deny):
		l.ID, l.Severity, l.Title = "license-denied", finding.Critical, "denied licence "+l.License
	case len(o.Allow) > 0 && (expr == "" || !o.allowed(expr)):
		l.ID, l.Severity, l.Title = "license-not-allowed", finding.High, "licence not in the allow list: "+l.License
	case len(o.Allow) > 0:
		l.ID, l.Severity, l.Title = "license-allowed", finding.Negligible, "allowed licence "+l.License
	}
	return l
}

// matchesAny: a denied id appears in the expression in a way that cannot
// be chosen away (every OR branch contains it, or there is no choice).
func (o *Options) matchesAny(expr string, ids, list []string) bool {
	others := []string{}
	for _, id := range ids {
		if !slices.Contains(list, id) {
			others = append(others, id)
		}
	}
	if len(others) == len(ids) {
		return false
	}
	if len(others) == 0 {
		return true
	}
	ok, err := spdxexp.Satisfies(expr, others)
	return err != nil || !ok
}

func (o *Options) allowed(expr string) bool {
	ok, err := spdxexp.Satisfies(expr, o.Allow)
	return err == nil && ok
}

// Summary counts packages per licence, most encumbering first.
func Summary(ls []finding.License) []Count {
	type key struct{ lic, cat string }
	pkgs := map[key]map[string]bool{}
	sev := map[key]finding.Severity{}
	for _, l := range ls {
		k := key{l.License, l.Category}
		if pkgs[k] == nil {
			pkgs[k] = map[string]bool{}
		}
		pkgs[k][l.Package.Type+"\x00"+l.Package.Name+"\x00"+l.Package.Version+"\x00"+l.Package.Path] = true
		if l.Severity.Rank() > sev[k].Rank() || sev[k] == "" {
			sev[k] = l.Severity
		}
	}
	var out []Count
	for k, p := range pkgs {
		out = append(out, Count{License: k.lic, Category: k.cat, Severity: sev[k], Packages: len(p)})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if d := b.Severity.Rank() - a.Severity.Rank(); d != 0 {
			return d
		}
		if d := b.Packages - a.Packages; d != 0 {
			return d
		}
		return strings.Compare(a.License, b.License)
	})
	return out
}

// Count is how many packages carry a licence.
type Count struct {
	License  string
	Category string
	Severity finding.Severity
	Packages int
}
