package api

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/package-url/packageurl-go"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/match"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server/store"
	"github.com/drydockscan/drydock/internal/version"
)

func (a *api) listImages(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 100, 1000)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	lo := store.ListOptions{After: q.Get("after"), Repository: q.Get("repository"), Tag: q.Get("tag"), Limit: limit}
	if s := q.Get("severity"); s != "" {
		sev, ok := finding.ParseSeverity(s)
		if !ok {
			writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "severity: want CRITICAL, HIGH, MEDIUM, LOW, NEGLIGIBLE or UNKNOWN")
			return
		}
		lo.Severity = sev
	}
	ims, err := a.c.Store.ListImages(r.Context(), lo)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := struct {
		Images []store.ImageSummary `json:"images"`
		Next   string               `json:"next,omitempty"`
	}{Images: ims}
	if len(ims) == limit {
		out.Next = ims[len(ims)-1].Digest
	}
	writeJSON(w, http.StatusOK, out)
}

// ImageView is an image with its current findings and scan history.
type ImageView struct {
	store.ImageSummary
	Target   report.Target     `json:"target"`
	OS       *inventory.OS     `json:"os,omitempty"`
	Packages int               `json:"packages"`
	Database *report.Database  `json:"database,omitempty"`
	Findings []finding.Finding `json:"findings"`
	// FindingStates says for each finding (same order) whether a
	// decision covers it: open, accepted or false_positive.
	FindingStates []string `json:"finding_states"`
	// Triage are the decisions that may cover the image's findings.
	Triage  []store.Triage `json:"triage"`
	History []ScanView     `json:"history"`
}

func (a *api) getImage(w http.ResponseWriter, r *http.Request) {
	digest := r.PathValue("digest")
	im, err := a.c.Store.GetImage(r.Context(), digest)
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, r, http.StatusNotFound, CodeNotFound, "no image "+digest)
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	v := ImageView{ImageSummary: im.ImageSummary, Target: im.Target, OS: im.OS, Packages: im.Packages, Database: im.Database, Findings: im.Findings, History: []ScanView{}}
	if v.Findings == nil {
		v.Findings = []finding.Finding{}
	}
	for _, sc := range im.History {
		v.History = append(v.History, scanView(sc))
	}
	list, err := a.c.Store.TriageFor(r.Context(), im.Digest, im.Repository)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	v.Triage = list
	if v.Triage == nil {
		v.Triage = []store.Triage{}
	}
	v.FindingStates = findingStates(im, list, time.Now())
	writeJSON(w, http.StatusOK, v)
}

// vulnID is what an advisory id may look like (CVE-…, GHSA-…, GO-…,
// PYSEC-…, DSA-…, DEBIAN-CVE-…, RUSTSEC-…).
var vulnID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9._:]+)+$`)

func (a *api) vulnImages(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if len(id) > 128 || !vulnID.MatchString(id) {
		writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "not a vulnerability id (CVE-…, GHSA-…, GO-…, an OSV id)")
		return
	}
	limit, err := queryInt(r, "limit", incidentPage, incidentMaxPage)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	pg := store.Page{After: q.Get("after"), Limit: limit}
	if s := q.Get("offset"); s != "" {
		if pg.Offset, err = strconv.Atoi(s); err != nil || pg.Offset < 0 {
			writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "offset: want a number")
			return
		}
		if pg.After != "" {
			writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "give after or offset, not both")
			return
		}
	}
	rows, cursor, err := a.c.Store.ImagesWithVuln(r.Context(), id, pg)
	if errors.Is(err, store.ErrBadCursor) {
		writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "after: "+err.Error())
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	n, err := a.c.Store.CountImagesWithVuln(r.Context(), id)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := struct {
		Vulnerability string `json:"vulnerability"`
		// Images counts every affected image, not only this page's.
		Images   int              `json:"images"`
		Affected []store.Affected `json:"affected"`
		// Cursor is the after value of the next page ("": none).
		Cursor string `json:"cursor,omitempty"`
		// Next is the offset of the next page, when paging by offset
		// (0: none).
		Next int `json:"next,omitempty"`
	}{strings.ToUpper(id), n, rows, cursor, 0}
	if cursor != "" && pg.After == "" {
		out.Next = pg.Offset + len(rows)
	}
	writeJSON(w, http.StatusOK, out)
}

// Pages of the incident queries: a CVE in a base image's C library affects
// every image, and a page of thousands of rows costs more to read, send
// and decode than the next request.
const (
	incidentPage    = 500
	incidentMaxPage = 10000
)

// versionRange is a list of constraints that must all hold: ">=1.2.0",
// "<2", "=1.4.1", "!=1.3".
type versionRange []struct {
	op, v string
}

func parseRange(s string) (versionRange, error) {
	var out versionRange
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		op := ""
		for _, o := range []string{">=", "<=", "!=", ">", "<", "="} {
			if strings.HasPrefix(part, o) {
				op = o
				break
			}
		}
		v := strings.TrimSpace(part[len(op):])
		if op == "" {
			op = "="
		}
		if v == "" || len(v) > 256 {
			return nil, fmt.Errorf("constraint %q has no version", part)
		}
		out = append(out, struct{ op, v string }{op, v})
	}
	if len(out) == 0 {
		return nil, errors.New("empty version range")
	}
	return out, nil
}

// holds reports whether v satisfies every constraint.
func (vr versionRange) holds(c version.Comparer, v string) bool {
	for _, k := range vr {
		n, err := c.Compare(v, k.v)
		if err != nil {
			return false
		}
		ok := false
		switch k.op {
		case ">=":
			ok = n >= 0
		case "<=":
			ok = n <= 0
		case ">":
			ok = n > 0
		case "<":
			ok = n < 0
		case "=":
			ok = n == 0
		case "!=":
			ok = n != 0
		}
		if !ok {
			return false
		}
	}
	return true
}

// comparerFor returns the version order of a purl type.
func comparerFor(typ string) (version.Comparer, bool) {
	switch typ {
	case inventory.TypeDeb:
		return version.Dpkg{}, true
	case inventory.TypeAPK:
		return version.APK{}, true
	case inventory.TypeRPM:
		return version.RPM{}, true
	}
	return version.For(match.LanguageEcosystem(typ))
}

func (a *api) packages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	raw := q.Get("purl")
	p, err := packageurl.FromString(raw)
	if err != nil || raw == "" || len(raw) > 2048 {
		writeProblem(w, r, http.StatusBadRequest, CodeBadPURL, "purl: want a package URL such as pkg:golang/golang.org/x/text or pkg:deb/debian/openssl@3.0.11-1~deb12u2")
		return
	}
	var vr versionRange
	if s := q.Get("range"); s != "" {
		if p.Version != "" {
			writeProblem(w, r, http.StatusBadRequest, CodeBadVersionRange, "give a version in the purl or a range, not both")
			return
		}
		if vr, err = parseRange(s); err != nil {
			writeProblem(w, r, http.StatusBadRequest, CodeBadVersionRange, "range: "+err.Error()+` (want constraints such as ">=1.2.0,<1.4.1")`)
			return
		}
	}
	cmp, ok := comparerFor(p.Type)
	if vr != nil && !ok {
		writeProblem(w, r, http.StatusBadRequest, CodeBadVersionRange, "drydock has no version order for purl type "+p.Type)
		return
	}
	limit, err := queryInt(r, "limit", incidentPage, incidentMaxPage)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	keep := func(hv store.HeldVersion) bool {
		v := hv.Version
		if hp, err := packageurl.FromString(hv.PURL); err == nil && hp.Version != "" {
			v = hp.Version // the purl's version (rpm without the epoch, as queried)
		}
		switch {
		case p.Version != "" && v != p.Version && hv.Version != p.Version:
			return false
		case vr != nil && !vr.holds(cmp, hv.Version):
			return false
		}
		return true
	}
	ans, err := a.c.Store.ImagesWithPackage(r.Context(), store.PackageKey(raw, p.Type, p.Name), keep, store.Page{After: q.Get("after"), Limit: limit})
	if errors.Is(err, store.ErrBadCursor) {
		writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "after: "+err.Error())
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		PURL  string `json:"purl"`
		Range string `json:"range,omitempty"`
		// Images counts every image holding the package, not only this
		// page's.
		Images   int             `json:"images"`
		Packages []store.Holding `json:"packages"`
		// Cursor is the after value of the next page ("": none).
		Cursor string `json:"cursor,omitempty"`
	}{raw, q.Get("range"), ans.Images, ans.Holdings, ans.Next})
}

func (a *api) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var eq store.EventQuery
	if s := q.Get("since"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			eq.AfterID = n
		} else if t, err := time.Parse(time.RFC3339, s); err == nil {
			eq.Since = t
		} else {
			writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "since: want the last event id seen or an RFC 3339 time")
			return
		}
	}
	limit, err := queryInt(r, "limit", 1000, 10000)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	eq.Limit, eq.Digest = limit, q.Get("digest")
	if q.Get("order") == "newest" {
		eq.Newest = true
		if s := q.Get("before"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 1 {
				writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "before: want an event id")
				return
			}
			eq.BeforeID = n
		}
	}
	evs, err := a.c.Store.Events(r.Context(), eq)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if eq.Newest {
		out := struct {
			Events []store.Event `json:"events"`
			Next   int64         `json:"next"`
		}{Events: evs}
		if len(evs) == limit {
			out.Next = evs[len(evs)-1].ID // before= for the next page
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	out := struct {
		Events []store.Event `json:"events"`
		// Next is the since value that continues after these events.
		Next int64 `json:"next"`
	}{Events: evs, Next: eq.AfterID}
	if len(evs) > 0 {
		out.Next = evs[len(evs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}
