package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/package-url/packageurl-go"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/report"
)

// Result is a scan's outcome to be stored: the report as matched (target,
// packages, findings, database) and the inventory it was matched from.
type Result struct {
	// ScanID is the scan this result finishes. A scan of KindInventory is
	// created with its result (Kind and Ref say what it was).
	ScanID    string
	Kind, Ref string
	Report    *report.Report
	Inventory *inventory.Inventory
	// Repository and Tags are the names the image was seen under.
	Repository string
	Tags       []string
	At         time.Time
}

// Event types.
const (
	// EventImageAdded: an image was stored for the first time.
	EventImageAdded = "image.added"
	// EventFindingNew: an image has a finding it did not have.
	EventFindingNew = "finding.new"
	// EventFindingResolved: an image no longer has a finding.
	EventFindingResolved = "finding.resolved"
)

// Causes of events.
const (
	CauseScan    = "scan"
	CauseRematch = "rematch"
)

// ImageKey is the key an image is stored under: its manifest digest;
// for sources without one (docker save archives) its config digest; for a
// directory, the digest of its inventory.
func ImageKey(t report.Target, inv *inventory.Inventory) string {
	switch {
	case t.ManifestDigest != "":
		return t.ManifestDigest
	case t.ConfigDigest != "":
		return t.ConfigDigest
	}
	b, _ := json.Marshal(inv)
	sum := sha256.Sum256(b)
	return "inventory:sha256:" + hex.EncodeToString(sum[:])
}

// PackageKey is how packages are found by purl: type/namespace/name, in
// lower case. Packages without a purl use type//name.
func PackageKey(purl, typ, name string) string {
	if p, err := packageurl.FromString(purl); err == nil && purl != "" {
		return strings.ToLower(p.Type + "/" + p.Namespace + "/" + p.Name)
	}
	return strings.ToLower(typ + "//" + name)
}

// findingKey identifies one finding of one image across scans.
func findingKey(f *finding.Finding) string {
	return f.ID + "\x00" + f.Package.Type + "\x00" + f.Package.Name + "\x00" + f.Package.Version + "\x00" + f.Package.Path
}

// Counts are findings by severity.
type Counts struct {
	Critical   int `json:"critical"`
	High       int `json:"high"`
	Medium     int `json:"medium"`
	Low        int `json:"low"`
	Negligible int `json:"negligible"`
	Unknown    int `json:"unknown"`
}

// Of is the count of findings of severity s.
func (c Counts) Of(s finding.Severity) int {
	switch s {
	case finding.Critical:
		return c.Critical
	case finding.High:
		return c.High
	case finding.Medium:
		return c.Medium
	case finding.Low:
		return c.Low
	case finding.Negligible:
		return c.Negligible
	}
	return c.Unknown
}

// CountFindings counts unsuppressed findings by severity.
func CountFindings(fs []finding.Finding) Counts {
	var c Counts
	for _, f := range fs {
		if f.Suppression != nil {
			continue
		}
		switch f.Severity {
		case finding.Critical:
			c.Critical++
		case finding.High:
			c.High++
		case finding.Medium:
			c.Medium++
		case finding.Low:
			c.Low++
		case finding.Negligible:
			c.Negligible++
		default:
			c.Unknown++
		}
	}
	return c
}

// Record stores a result: the image (created or updated), its tags,
// packages and findings, the scan's report, and the events of what
// changed. It is one transaction, and idempotent for a scan: recording a
// scan that is already done changes nothing and returns false.
func (s *Store) Record(ctx context.Context, r Result) (bool, error) {
	if r.At.IsZero() {
		r.At = time.Now()
	}
	rep := r.Report
	digest := ImageKey(rep.Target, r.Inventory)
	now := Stamp(r.At)
	repJSON, err := json.Marshal(rep)
	if err != nil {
		return false, err
	}
	var dbBuilt, dbUpdated string
	if rep.Database != nil {
		dbBuilt, dbUpdated = rep.Database.Built, normStamp(rep.Database.Updated)
	}
	recorded := false
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if r.Kind == KindInventory {
			if _, err := s.exec(ctx, tx, `INSERT INTO scans (id, kind, ref, status, created_at, started_at, attempts) VALUES (?, ?, ?, ?, ?, ?, 1)`,
				r.ScanID, r.Kind, r.Ref, StatusRunning, now, now); err != nil {
				return fmt.Errorf("store %s: creating scan: %w", s.where, err)
			}
		}
		res, err := s.exec(ctx, tx, `UPDATE scans SET status = ?, error = '', digest = ?, finished_at = ?, db_built = ?, db_updated = ?, report = ? WHERE id = ? AND status <> ?`,
			StatusDone, digest, now, dbBuilt, dbUpdated, string(repJSON), r.ScanID, StatusDone)
		if err != nil {
			return fmt.Errorf("store %s: finishing scan %s: %w", s.where, r.ScanID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // already recorded (a retried job), or no such scan
		}
		recorded = true
		// Claim the image row first: of two results for a new image, the
		// second waits here for the first and then sees it.
		res, err = s.exec(ctx, tx, `INSERT INTO images (digest, first_seen, last_seen, target, inventory, findings) VALUES (?, ?, ?, '{}', '{}', '[]')
			ON CONFLICT (digest) DO NOTHING`, digest, now, now)
		if err != nil {
			return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
		}
		n, _ := res.RowsAffected()
		exists := n == 0
		old, _, err := s.currentFindings(ctx, tx, digest)
		if err != nil {
			return err
		}
		if err := s.putImage(ctx, tx, digest, r, now, dbUpdated); err != nil {
			return err
		}
		moved, err := s.putTags(ctx, tx, digest, r, now)
		if err != nil {
			return err
		}
		var evs []Event
		if !exists {
			data, _ := json.Marshal(map[string]any{"repository": r.Repository, "tags": r.Tags, "scan_id": r.ScanID, "findings": len(rep.Vulnerabilities)})
			evs = append(evs, Event{Type: EventImageAdded, Digest: digest, Data: data})
		} else {
			evs = diffEvents(digest, old, rep.Vulnerabilities, map[string]any{"cause": CauseScan, "scan_id": r.ScanID, "db_updated": dbUpdated})
		}
		evs = append(evs, moved...)
		if err := s.markSeen(ctx, tx, digest, rep.Vulnerabilities, now); err != nil {
			return err
		}
		gate, err := s.refreshImage(ctx, tx, digest, rep.Vulnerabilities, r.At)
		if err != nil {
			return err
		}
		return s.addEvents(ctx, tx, now, append(evs, gate...))
	})
	return recorded, err
}

func normStamp(rfc string) string {
	if rfc == "" {
		return ""
	}
	t, err := time.Parse(time.RFC3339Nano, rfc)
	if err != nil {
		return rfc
	}
	return Stamp(t)
}

func (s *Store) currentFindings(ctx context.Context, tx *sql.Tx, digest string) ([]finding.Finding, bool, error) {
	var doc string
	lock := ""
	if s.dialect == Postgres {
		lock = " FOR UPDATE"
	}
	err := tx.QueryRowContext(ctx, s.q(`SELECT findings FROM images WHERE digest = ?`+lock), digest).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
	}
	var fs []finding.Finding
	if err := json.Unmarshal([]byte(doc), &fs); err != nil {
		return nil, true, fmt.Errorf("store %s: image %s: findings: %w", s.where, digest, err)
	}
	return fs, true, nil
}

func (s *Store) putImage(ctx context.Context, tx *sql.Tx, digest string, r Result, now, dbUpdated string) error {
	rep := r.Report
	target, _ := json.Marshal(rep.Target)
	inv := *r.Inventory
	inv.Packages = slices.Clone(inv.Packages)
	for i := range inv.Packages {
		inv.Packages[i].Files = nil
	}
	invJSON, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	fs := rep.Vulnerabilities
	if fs == nil {
		fs = []finding.Finding{}
	}
	fsJSON, _ := json.Marshal(fs)
	dbJSON := []byte{}
	if rep.Database != nil {
		dbJSON, _ = json.Marshal(rep.Database)
	}
	c := CountFindings(fs)
	_, err = s.exec(ctx, tx, `UPDATE images SET repository = CASE WHEN ? <> '' THEN ? ELSE repository END, last_seen = ?, target = ?, inventory = ?, findings = ?, db_facts = ?, db_updated = ?, last_scan = ?,
		critical = ?, high = ?, medium = ?, low = ?, negligible = ?, unknown = ?, gone_at = '' WHERE digest = ?`,
		r.Repository, r.Repository, now, string(target), string(invJSON), string(fsJSON), string(dbJSON), dbUpdated, r.ScanID,
		c.Critical, c.High, c.Medium, c.Low, c.Negligible, c.Unknown, digest)
	if err != nil {
		return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
	}
	if _, err := s.exec(ctx, tx, `DELETE FROM image_packages WHERE digest = ?`, digest); err != nil {
		return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
	}
	rows := make([][]any, 0, len(inv.Packages))
	for _, p := range inv.Packages {
		rows = append(rows, []any{digest, PackageKey(p.PURL, p.Type, p.Name), p.Type, p.Name, p.Version, p.PURL, p.Path, p.Layer})
	}
	if err := s.insertRows(ctx, tx, "image_packages (digest, pkey, type, name, version, purl, path, layer)", rows); err != nil {
		return fmt.Errorf("store %s: image %s: packages: %w", s.where, digest, err)
	}
	return s.putVulns(ctx, tx, digest, fs)
}

// putTags records the names an image was seen under. A tag that named
// another image now names this one: the other's tag is marked removed
// and a tag.moved event says so.
func (s *Store) putTags(ctx context.Context, tx *sql.Tx, digest string, r Result, now string) ([]Event, error) {
	var evs []Event
	for _, tag := range r.Tags {
		rows, err := tx.QueryContext(ctx, s.q(`SELECT digest FROM image_tags WHERE repository = ? AND tag = ? AND digest <> ? AND removed_at = ''`), r.Repository, tag, digest)
		if err != nil {
			return nil, fmt.Errorf("store %s: image %s: tag %s: %w", s.where, digest, tag, err)
		}
		var from []string
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return nil, err
			}
			from = append(from, d)
		}
		rows.Close()
		if len(from) > 0 {
			if _, err := s.exec(ctx, tx, `UPDATE image_tags SET removed_at = ? WHERE repository = ? AND tag = ? AND digest <> ? AND removed_at = ''`, now, r.Repository, tag, digest); err != nil {
				return nil, fmt.Errorf("store %s: image %s: tag %s: %w", s.where, digest, tag, err)
			}
			for _, f := range from {
				data, _ := json.Marshal(map[string]any{"repository": r.Repository, "tag": tag, "from": f})
				evs = append(evs, Event{Type: EventTagMoved, Digest: digest, Data: data})
			}
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO image_tags (digest, repository, tag, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (digest, repository, tag) DO UPDATE SET last_seen = excluded.last_seen, removed_at = ''`, digest, r.Repository, tag, now, now); err != nil {
			return nil, fmt.Errorf("store %s: image %s: tag %s: %w", s.where, digest, tag, err)
		}
	}
	return evs, nil
}

// seenKey names a finding of an image in finding_seen.
func seenKey(f *finding.Finding) string {
	return f.ID + " " + f.Package.Type + "/" + f.Package.Name + "@" + f.Package.Version + " " + f.Package.Path
}

// markSeen remembers when each finding was first seen, and when a fix for
// it was first seen.
func (s *Store) markSeen(ctx context.Context, tx *sql.Tx, digest string, fs []finding.Finding, now string) error {
	rows := make([][]any, 0, len(fs))
	seen := map[string]bool{}
	for i := range fs {
		k := seenKey(&fs[i])
		if seen[k] {
			continue
		}
		seen[k] = true
		fix := ""
		if len(fs[i].FixedVersions) > 0 {
			fix = now
		}
		rows = append(rows, []any{digest, k, fs[i].ID, now, fix})
	}
	err := s.insertRowsSuffix(ctx, tx, "finding_seen (digest, fkey, vuln_id, first_seen, fix_seen)", rows,
		` ON CONFLICT (digest, fkey) DO UPDATE SET fix_seen = CASE WHEN finding_seen.fix_seen = '' THEN excluded.fix_seen ELSE finding_seen.fix_seen END`)
	if err != nil {
		return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
	}
	return nil
}

// vulnRow is one row of image_vulns without its digest: a finding of an
// image under one of its ids. Within an image a row is known by its id,
// finding id, package type, name, version and path (image_vulns_page).
type vulnRow struct {
	VulnID, FindingID, Severity, Status, PackageType, PackageName, PackageVersion, PURL, Path, Layer, FixedVersions string
}

func (r vulnRow) values(digest string) []any {
	return []any{digest, r.VulnID, r.FindingID, r.Severity, r.Status, r.PackageType, r.PackageName, r.PackageVersion, r.PURL, r.Path, r.Layer, r.FixedVersions}
}

// putVulns replaces an image's rows of the incident index: one row per
// finding and id it is known by (its id and every alias). Only what
// changed is written: a re-match that adds one finding to an image writes
// its rows, not every row and index entry of the image again.
// It keeps vuln_images, the count of images by id, up to date: the
// image's rows are locked with it (Record and Rematch hold its images row
// for update), so the rows it had are those read here.
func (s *Store) putVulns(ctx context.Context, tx *sql.Tx, digest string, fs []finding.Finding) error {
	old := map[vulnRow]bool{}
	rows, err := tx.QueryContext(ctx, s.q(`SELECT vuln_id, finding_id, severity, status, package_type, package_name, package_version, purl, path, layer, fixed_versions FROM image_vulns WHERE digest = ?`), digest)
	if err != nil {
		return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
	}
	for rows.Next() {
		var r vulnRow
		if err := rows.Scan(&r.VulnID, &r.FindingID, &r.Severity, &r.Status, &r.PackageType, &r.PackageName, &r.PackageVersion, &r.PURL, &r.Path, &r.Layer, &r.FixedVersions); err != nil {
			rows.Close()
			return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
		}
		old[r] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
	}
	var cur []vulnRow
	want := map[vulnRow]bool{}
	for _, f := range fs {
		seen := map[string]bool{}
		for _, id := range append([]string{f.ID}, f.Aliases...) {
			id = strings.ToUpper(id)
			if seen[id] {
				continue
			}
			seen[id] = true
			p := f.Package
			r := vulnRow{id, f.ID, string(f.Severity), f.Status, p.Type, p.Name, p.Version, p.PURL, p.Path, p.Layer, strings.Join(f.FixedVersions, ",")}
			if !want[r] {
				want[r] = true
				cur = append(cur, r)
			}
		}
	}
	var gone []vulnRow
	for r := range old {
		if !want[r] {
			gone = append(gone, r)
		}
	}
	var add [][]any
	if len(gone) > len(old)/2 {
		// Most rows go: one statement for all, and every row written again.
		if _, err := s.exec(ctx, tx, `DELETE FROM image_vulns WHERE digest = ?`, digest); err != nil {
			return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
		}
		for _, r := range cur {
			add = append(add, r.values(digest))
		}
	} else {
		// A row's key is unique within the image: deleting by key removes
		// exactly the row that changed or went.
		for _, r := range gone {
			if _, err := s.exec(ctx, tx, `DELETE FROM image_vulns WHERE vuln_id = ? AND digest = ? AND package_name = ? AND package_version = ? AND path = ? AND finding_id = ? AND package_type = ?`,
				r.VulnID, digest, r.PackageName, r.PackageVersion, r.Path, r.FindingID, r.PackageType); err != nil {
				return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
			}
		}
		for _, r := range cur {
			if !old[r] {
				add = append(add, r.values(digest))
			}
		}
	}
	if err := s.insertRows(ctx, tx, "image_vulns (digest, vuln_id, finding_id, severity, status, package_type, package_name, package_version, purl, path, layer, fixed_versions)", add); err != nil {
		return fmt.Errorf("store %s: image %s: findings: %w", s.where, digest, err)
	}
	// The image counts once per id it is known by, whatever its rows.
	delta := map[string]int{}
	for r := range old {
		delta[r.VulnID] = -1
	}
	for r := range want {
		if d, ok := delta[r.VulnID]; !ok {
			delta[r.VulnID] = 1
		} else if d == -1 {
			delta[r.VulnID] = 0
		}
	}
	// One statement, its rows in id order: two transactions updating
	// common ids lock them in the same order and cannot deadlock.
	var counts [][]any
	for _, id := range slices.Sorted(maps.Keys(delta)) {
		if delta[id] != 0 {
			counts = append(counts, []any{id, delta[id]})
		}
	}
	if err := s.insertRowsSuffix(ctx, tx, "vuln_images (vuln_id, images)", counts,
		` ON CONFLICT (vuln_id) DO UPDATE SET images = vuln_images.images + excluded.images`); err != nil {
		return fmt.Errorf("store %s: image %s: counts of images by vulnerability: %w", s.where, digest, err)
	}
	return nil
}

// insertRows inserts rows in multi-row statements (SQLite allows 32766
// parameters per statement, PostgreSQL 65535).
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, into string, rows [][]any) error {
	return s.insertRowsSuffix(ctx, tx, into, rows, "")
}

// insertRowsSuffix is insertRows with a clause after the values (ON
// CONFLICT …).
func (s *Store) insertRowsSuffix(ctx context.Context, tx *sql.Tx, into string, rows [][]any, suffix string) error {
	if len(rows) == 0 {
		return nil
	}
	per := 30000 / len(rows[0])
	for start := 0; start < len(rows); start += per {
		batch := rows[start:min(start+per, len(rows))]
		var b strings.Builder
		args := make([]any, 0, len(batch)*len(batch[0]))
		b.WriteString("INSERT INTO " + into + " VALUES ")
		ph := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(batch[0])), ", ") + ")"
		for i, r := range batch {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(ph)
			args = append(args, r...)
		}
		b.WriteString(suffix)
		if _, err := s.exec(ctx, tx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// diffEvents returns the events of going from old to cur findings.
func diffEvents(digest string, old, cur []finding.Finding, extra map[string]any) []Event {
	before := map[string]*finding.Finding{}
	for i := range old {
		before[findingKey(&old[i])] = &old[i]
	}
	after := map[string]*finding.Finding{}
	for i := range cur {
		after[findingKey(&cur[i])] = &cur[i]
	}
	var evs []Event
	add := func(typ string, f *finding.Finding) {
		d := map[string]any{
			"package":        f.Package,
			"severity":       f.Severity,
			"kev":            f.KEV != nil,
			"title":          f.Title,
			"status":         f.Status,
			"fixed_versions": f.FixedVersions,
			"aliases":        f.Aliases,
		}
		for k, v := range extra {
			d[k] = v
		}
		data, _ := json.Marshal(d)
		evs = append(evs, Event{Type: typ, Digest: digest, VulnID: f.ID, Data: data})
	}
	for i := range cur {
		if before[findingKey(&cur[i])] == nil {
			add(EventFindingNew, &cur[i])
		}
	}
	for i := range old {
		if after[findingKey(&old[i])] == nil {
			add(EventFindingResolved, &old[i])
		}
	}
	// What changed in a finding the image keeps: it entered the KEV
	// catalogue, or a fix became available.
	for i := range cur {
		was := before[findingKey(&cur[i])]
		if was == nil {
			continue
		}
		if was.KEV == nil && cur[i].KEV != nil {
			add(EventFindingKEV, &cur[i])
		}
		if len(was.FixedVersions) == 0 && len(cur[i].FixedVersions) > 0 {
			add(EventFixAvailable, &cur[i])
		}
	}
	return evs
}
