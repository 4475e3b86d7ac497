package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
)

var csvFindingHeader = []string{
	"target", "package", "installed_version", "type", "vulnerability", "aliases",
	"severity", "severity_source", "cvss_score", "cvss_vector", "status", "fixed_versions",
	"kev", "fails_gate", "suppressed", "suppression", "title", "url",
	"purl", "path", "layer_index", "layer", "other_paths",
}

var csvPackageHeader = []string{
	"type", "name", "version", "source_name", "source_version", "purl",
	"path", "layer_index", "layer", "owned_by", "licenses", "dev", "other_paths",
}

// WriteCSV writes one row per finding after a header row (RFC 4180, CRLF
// line ends); without a database, one row per package. Lists inside a
// cell (aliases, fixed versions, licences) are joined with "; ". "path"
// is a package's primary location; "other_paths" the other places it was
// found (the lock file listing an installed npm package). A cell
// that a spreadsheet would run as a formula (starting with =, +, -, @, a
// tab or a carriage return) is prefixed with an apostrophe.
func WriteCSV(w io.Writer, r *Report, _ Options) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	write := func(rec []string) error {
		safe := make([]string, len(rec))
		for i, v := range rec {
			safe[i] = csvSafe(v)
		}
		return cw.Write(safe)
	}
	// With a recorded run applied (--runtime-events), a last column says
	// whether the package was in use.
	inUse := func(rec []string, used bool) []string {
		if r.Runtime == nil {
			return rec
		}
		return append(rec, strconv.FormatBool(used))
	}
	var err error
	if !withFindings(r) && !otherKinds(r) {
		err = write(csvHeader(r, csvPackageHeader))
		for i := range r.Packages {
			if err != nil {
				break
			}
			p := &r.Packages[i]
			err = write(inUse([]string{
				p.Type, p.Name, p.Version, p.SourceName, p.SourceVersion, p.PURL,
				p.Path, strconv.Itoa(p.LayerIndex), p.Layer, p.OwnedBy,
				strings.Join(p.Licenses, "; "), strconv.FormatBool(p.Dev), otherPaths(p.AllLocations()),
			}, p.InUse))
		}
	} else {
		err = write(csvHeader(r, csvFindingHeader))
		fs := sortedFindings(r)
		for i := range fs {
			if err != nil {
				break
			}
			err = write(inUse(csvFindingRow(r, &fs[i]), fs[i].InUse))
		}
		for _, row := range csvKindRows(r) {
			if err != nil {
				break
			}
			err = write(row)
		}
	}
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err != nil {
		return fmt.Errorf("csv report: %w", err)
	}
	return nil
}

func csvFindingRow(r *Report, f *finding.Finding) []string {
	var score, vector string
	if c := bestCVSS(f); c != nil {
		score, vector = strconv.FormatFloat(c.Score, 'f', 1, 64), c.Vector
	}
	var suppressed, why string
	if s := f.Suppression; s != nil {
		suppressed, why = s.Kind, suppressionText(s)
	}
	kev := ""
	if f.KEV != nil {
		kev = f.KEV.DateAdded
	}
	gate := ""
	if r.Gate != nil {
		gate = strconv.FormatBool(r.Gate.Fails(f))
	}
	return []string{
		f.Target(), f.Package.Name, f.Package.Version, f.Package.Type, f.ID, strings.Join(f.Aliases, "; "),
		string(normSev(f.Severity)), f.SeveritySource, score, vector, f.Status, strings.Join(f.FixedVersions, "; "),
		kev, gate, suppressed, why, f.Title, findingURL(f),
		f.Package.PURL, f.Package.Path, strconv.Itoa(f.Package.LayerIndex), f.Package.Layer,
		otherPaths(f.Package.AllLocations()),
	}
}

// csvHeader is a header row, with the in_use column when the report has a
// runtime section.
func csvHeader(r *Report, base []string) []string {
	h := slices.Clone(base)
	if r.Runtime != nil {
		h = append(h, "in_use")
	}
	return h
}

// otherPaths joins the paths of every location but the first (the
// primary one, in its own column) with "; ".
func otherPaths(locs []inventory.Location) string {
	var paths []string
	for _, l := range locs[1:] {
		paths = append(paths, l.Path)
	}
	return strings.Join(paths, "; ")
}

// csvSafe defuses spreadsheet formula injection (OWASP's advice: a
// leading apostrophe makes the cell text).
func csvSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
