package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/report"
)

// Tag is a name an image was seen under.
type Tag struct {
	Repository string    `json:"repository"`
	Tag        string    `json:"tag"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	// Removed is when the tag was seen naming another image, or gone
	// from its registry.
	Removed time.Time `json:"removed,omitzero"`
}

// ImageSummary is an image as listed.
type ImageSummary struct {
	Digest     string    `json:"digest"`
	Repository string    `json:"repository"`
	Tags       []Tag     `json:"tags"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	LastScan   string    `json:"last_scan"`
	DBUpdated  string    `json:"db_updated,omitempty"`
	// Counts are the open findings by severity: those no acceptance or
	// false-positive decision covers.
	Counts Counts `json:"counts"`
	// Accepted counts the findings decisions cover.
	Accepted int `json:"accepted"`
	// Gate is the verdict under the server's gate: "pass", "fail", or ""
	// when the server has none.
	Gate string `json:"gate,omitempty"`
	// Gone is when the image was seen gone from its registry.
	Gone time.Time `json:"gone,omitzero"`
}

// Image is an image with its current findings and history.
type Image struct {
	ImageSummary
	Target   report.Target     `json:"target"`
	OS       *inventory.OS     `json:"os,omitempty"`
	Packages int               `json:"packages"`
	Database *report.Database  `json:"database,omitempty"`
	Findings []finding.Finding `json:"findings"`
	History  []Scan            `json:"-"`
}

// ListOptions page through images.
type ListOptions struct {
	// After is the last digest of the previous page.
	After string
	// Repository keeps only images of that repository.
	Repository string
	// Tag keeps images seen under that tag (in any repository).
	Tag string
	// Severity keeps images with an open finding at or above it.
	Severity finding.Severity
	Limit    int
}

const summaryColumns = `digest, repository, first_seen, last_seen, last_scan, db_updated, critical, high, medium, low, negligible, unknown, accepted, gate, gone_at`

func summaryDest(im *ImageSummary, first, last, gone *string) []any {
	c := &im.Counts
	return []any{&im.Digest, &im.Repository, first, last, &im.LastScan, &im.DBUpdated, &c.Critical, &c.High, &c.Medium, &c.Low, &c.Negligible, &c.Unknown, &im.Accepted, &im.Gate, gone}
}

func scanSummary(row interface{ Scan(...any) error }) (ImageSummary, error) {
	var im ImageSummary
	var first, last, gone string
	err := row.Scan(summaryDest(&im, &first, &last, &gone)...)
	im.FirstSeen, im.LastSeen, im.Gone = parseStamp(first), parseStamp(last), parseStamp(gone)
	return im, err
}

// ListImages lists images by digest.
func (s *Store) ListImages(ctx context.Context, o ListOptions) ([]ImageSummary, error) {
	if o.Limit <= 0 || o.Limit > 1000 {
		o.Limit = 100
	}
	query := `SELECT ` + summaryColumns + ` FROM images WHERE digest > ?`
	args := []any{o.After}
	if o.Repository != "" {
		query += ` AND repository = ?`
		args = append(args, o.Repository)
	}
	if o.Tag != "" {
		query += ` AND digest IN (SELECT digest FROM image_tags WHERE tag = ?)`
		args = append(args, o.Tag)
	}
	if o.Severity != "" && o.Severity != finding.Unknown {
		var cols []string
		for _, sev := range finding.All() {
			if sev != finding.Unknown && sev.Rank() >= o.Severity.Rank() {
				cols = append(cols, strings.ToLower(string(sev))+" > 0")
			}
		}
		query += ` AND (` + strings.Join(cols, " OR ") + `)`
	}
	query += ` ORDER BY digest LIMIT ?`
	args = append(args, o.Limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store %s: images: %w", s.where, err)
	}
	defer rows.Close()
	out := []ImageSummary{}
	for rows.Next() {
		im, err := scanSummary(rows)
		if err != nil {
			return nil, fmt.Errorf("store %s: images: %w", s.where, err)
		}
		out = append(out, im)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Tags, err = s.tags(ctx, out[i].Digest); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) tags(ctx context.Context, digest string) ([]Tag, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT repository, tag, first_seen, last_seen, removed_at FROM image_tags WHERE digest = ? ORDER BY repository, tag`), digest)
	if err != nil {
		return nil, fmt.Errorf("store %s: tags of %s: %w", s.where, digest, err)
	}
	defer rows.Close()
	out := []Tag{}
	for rows.Next() {
		var t Tag
		var first, last, removed string
		if err := rows.Scan(&t.Repository, &t.Tag, &first, &last, &removed); err != nil {
			return nil, err
		}
		t.FirstSeen, t.LastSeen, t.Removed = parseStamp(first), parseStamp(last), parseStamp(removed)
		out = append(out, t)
	}
	return out, rows.Err()
}

// GetImage returns an image with its findings and scan history.
func (s *Store) GetImage(ctx context.Context, digest string) (*Image, error) {
	var target, inv, fs, db string
	row := s.db.QueryRowContext(ctx, s.q(`SELECT `+summaryColumns+`, target, inventory, findings, db_facts FROM images WHERE digest = ?`), digest)
	var im Image
	var first, last, gone string
	err := row.Scan(append(summaryDest(&im.ImageSummary, &first, &last, &gone), &target, &inv, &fs, &db)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("image %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
	}
	im.FirstSeen, im.LastSeen, im.Gone = parseStamp(first), parseStamp(last), parseStamp(gone)
	var in inventory.Inventory
	if err := errors.Join(json.Unmarshal([]byte(target), &im.Target), json.Unmarshal([]byte(inv), &in), json.Unmarshal([]byte(fs), &im.Findings)); err != nil {
		return nil, fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
	}
	im.OS, im.Packages = in.OS, len(in.Packages)
	if db != "" {
		im.Database = &report.Database{}
		_ = json.Unmarshal([]byte(db), im.Database)
	}
	if im.Tags, err = s.tags(ctx, digest); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+scanColumns+` FROM scans WHERE digest = ? ORDER BY finished_at DESC, id LIMIT 100`), digest)
	if err != nil {
		return nil, fmt.Errorf("store %s: history of %s: %w", s.where, digest, err)
	}
	defer rows.Close()
	for rows.Next() {
		sc, err := scanScan(rows)
		if err != nil {
			return nil, err
		}
		im.History = append(im.History, sc)
	}
	return &im, rows.Err()
}

// Affected is one finding of one stored image, as the incident queries
// return it.
type Affected struct {
	Digest        string   `json:"digest"`
	Repository    string   `json:"repository"`
	FindingID     string   `json:"finding_id"`
	Severity      string   `json:"severity"`
	Status        string   `json:"status"`
	PackageType   string   `json:"package_type"`
	Package       string   `json:"package"`
	Version       string   `json:"version"`
	PURL          string   `json:"purl"`
	Path          string   `json:"path"`
	Layer         string   `json:"layer"`
	FixedVersions []string `json:"fixed_versions"`
}

// Page selects one page of an incident query's rows: those after a
// cursor (the Next of the previous page), or, when After is empty, those
// from an offset; at most Limit rows.
type Page struct {
	After  string
	Offset int
	Limit  int
}

// ErrBadCursor is returned for a cursor this store did not hand out.
var ErrBadCursor = errors.New("not a cursor of this query")

// encodeCursor makes a page cursor of the sort key of a page's last row.
func encodeCursor(key ...string) string {
	b, _ := json.Marshal(key)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the n key values of a cursor.
func decodeCursor(c string, n int) ([]any, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	var key []string
	if err != nil || len(c) > 8192 || json.Unmarshal(b, &key) != nil || len(key) != n {
		return nil, ErrBadCursor
	}
	out := make([]any, n)
	for i, k := range key {
		out[i] = k
	}
	return out, nil
}

// ImagesWithVuln returns a page of the stored images' findings known by
// id (the finding's own id or one of its aliases), by digest, package,
// version and path, and the cursor of the next page ("" after the last).
// The page is read from image_vulns_page in its order: with a cursor it
// costs the page's rows whatever its position; an offset also costs the
// rows before it.
func (s *Store) ImagesWithVuln(ctx context.Context, id string, p Page) ([]Affected, string, error) {
	if p.Limit <= 0 {
		p.Limit = 500
	}
	where := `v.vuln_id = ?`
	args := []any{strings.ToUpper(id)}
	if p.After != "" {
		key, err := decodeCursor(p.After, 6)
		if err != nil {
			return nil, "", err
		}
		where += ` AND (v.digest, v.package_name, v.package_version, v.path, v.finding_id, v.package_type) > (?, ?, ?, ?, ?, ?)`
		args = append(args, key...)
		p.Offset = 0
	}
	args = append(args, p.Limit+1, p.Offset)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT v.digest, i.repository, v.finding_id, v.severity, v.status, v.package_type, v.package_name, v.package_version, v.purl, v.path, v.layer, v.fixed_versions
		FROM image_vulns v JOIN images i ON i.digest = v.digest WHERE `+where+`
		ORDER BY v.digest, v.package_name, v.package_version, v.path, v.finding_id, v.package_type LIMIT ? OFFSET ?`), args...)
	if err != nil {
		return nil, "", fmt.Errorf("store %s: images with %s: %w", s.where, id, err)
	}
	defer rows.Close()
	out := []Affected{}
	for rows.Next() {
		var a Affected
		var fixed string
		if err := rows.Scan(&a.Digest, &a.Repository, &a.FindingID, &a.Severity, &a.Status, &a.PackageType, &a.Package, &a.Version, &a.PURL, &a.Path, &a.Layer, &fixed); err != nil {
			return nil, "", err
		}
		a.FixedVersions = []string{}
		if fixed != "" {
			a.FixedVersions = strings.Split(fixed, ",")
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store %s: images with %s: %w", s.where, id, err)
	}
	next := ""
	if len(out) > p.Limit {
		out = out[:p.Limit]
		a := out[len(out)-1]
		next = encodeCursor(a.Digest, a.Package, a.Version, a.Path, a.FindingID, a.PackageType)
	}
	return out, next, nil
}

// Holding is one stored image holding a package.
type Holding struct {
	Digest     string `json:"digest"`
	Repository string `json:"repository"`
	Type       string `json:"type"`
	Name       string `json:"name"`
	Version    string `json:"version"`
	PURL       string `json:"purl"`
	Path       string `json:"path"`
	Layer      string `json:"layer"`
}

// HeldVersion is a version of a package as held: the version and the
// purl recorded with it.
type HeldVersion struct {
	Version, PURL string
}

// PackageAnswer is a page of the stored images holding a package.
type PackageAnswer struct {
	// Images counts every image holding a kept version, not only this
	// page's.
	Images   int
	Holdings []Holding
	// Next is the cursor of the next page ("" after the last).
	Next string
}

// ImagesWithPackage returns a page of the stored images holding a
// package of that key (PackageKey) in a version keep accepts (nil keeps
// every version), by digest, version, purl and path. The count and the
// pages are read from image_packages_page in its order; keep is asked
// once per distinct version and purl. p.Offset is not used.
func (s *Store) ImagesWithPackage(ctx context.Context, pkey string, keep func(HeldVersion) bool, p Page) (PackageAnswer, error) {
	if p.Limit <= 0 {
		p.Limit = 500
	}
	var ans PackageAnswer
	var after []any
	if p.After != "" {
		var err error
		if after, err = decodeCursor(p.After, 4); err != nil {
			return ans, err
		}
	}
	kept := map[HeldVersion]bool{}
	accept := func(v HeldVersion) bool {
		ok, seen := kept[v]
		if !seen {
			ok = keep == nil || keep(v)
			kept[v] = ok
		}
		return ok
	}
	// Count the images: the index's (digest, version, purl) in digest
	// order, so an image is counted when its first kept row is seen.
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT digest, version, purl FROM image_packages WHERE pkey = ? ORDER BY digest`), pkey)
	if err != nil {
		return ans, fmt.Errorf("store %s: images with %s: %w", s.where, pkey, err)
	}
	last := ""
	for rows.Next() {
		var d string
		var v HeldVersion
		if err := rows.Scan(&d, &v.Version, &v.PURL); err != nil {
			rows.Close()
			return ans, fmt.Errorf("store %s: images with %s: %w", s.where, pkey, err)
		}
		if d != last && accept(v) {
			ans.Images++
			last = d
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ans, fmt.Errorf("store %s: images with %s: %w", s.where, pkey, err)
	}
	ans.Holdings = []Holding{}
	if ans.Images == 0 {
		return ans, nil
	}
	// Rows of versions keep refuses are skipped; read on until the page
	// and one more row are found or the rows end.
	batch := p.Limit + 1
	for len(ans.Holdings) <= p.Limit {
		where, args := `p.pkey = ?`, []any{pkey}
		if after != nil {
			where += ` AND (p.digest, p.version, p.purl, p.path) > (?, ?, ?, ?)`
			args = append(args, after...)
		}
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT p.digest, i.repository, p.type, p.name, p.version, p.purl, p.path, p.layer
			FROM image_packages p JOIN images i ON i.digest = p.digest WHERE `+where+` ORDER BY p.digest, p.version, p.purl, p.path LIMIT ?`), append(args, batch)...)
		if err != nil {
			return ans, fmt.Errorf("store %s: images with %s: %w", s.where, pkey, err)
		}
		n := 0
		for rows.Next() {
			var h Holding
			if err := rows.Scan(&h.Digest, &h.Repository, &h.Type, &h.Name, &h.Version, &h.PURL, &h.Path, &h.Layer); err != nil {
				rows.Close()
				return ans, fmt.Errorf("store %s: images with %s: %w", s.where, pkey, err)
			}
			n++
			after = []any{h.Digest, h.Version, h.PURL, h.Path}
			if accept(HeldVersion{h.Version, h.PURL}) && len(ans.Holdings) <= p.Limit {
				ans.Holdings = append(ans.Holdings, h)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return ans, fmt.Errorf("store %s: images with %s: %w", s.where, pkey, err)
		}
		if n < batch {
			break
		}
	}
	if len(ans.Holdings) > p.Limit {
		ans.Holdings = ans.Holdings[:p.Limit]
		h := ans.Holdings[len(ans.Holdings)-1]
		ans.Next = encodeCursor(h.Digest, h.Version, h.PURL, h.Path)
	}
	return ans, nil
}

// Event is one recorded change. Data is a JSON object whose fields depend
// on the type (see docs/server.md).
type Event struct {
	ID     int64           `json:"id"`
	At     time.Time       `json:"at"`
	Type   string          `json:"type"`
	Digest string          `json:"digest,omitempty"`
	VulnID string          `json:"vulnerability,omitempty"`
	Data   json.RawMessage `json:"data"`
}

func (s *Store) addEvents(ctx context.Context, tx *sql.Tx, at string, evs []Event) error {
	for _, e := range evs {
		if _, err := s.exec(ctx, tx, `INSERT INTO events (at, type, digest, vuln_id, data) VALUES (?, ?, ?, ?, ?)`, at, e.Type, e.Digest, e.VulnID, string(e.Data)); err != nil {
			return fmt.Errorf("store %s: event: %w", s.where, err)
		}
	}
	return nil
}

// EventQuery selects events: after an event id, or at or after a time.
type EventQuery struct {
	AfterID int64
	Since   time.Time
	Digest  string
	Limit   int
	// Newest lists newest first, before BeforeID when it is set.
	Newest   bool
	BeforeID int64
}

// Events returns events in order.
func (s *Store) Events(ctx context.Context, q EventQuery) ([]Event, error) {
	if q.Limit <= 0 || q.Limit > 10000 {
		q.Limit = 1000
	}
	query := `SELECT id, at, type, digest, vuln_id, data FROM events WHERE id > ? AND at >= ?`
	args := []any{q.AfterID, Stamp(q.Since)}
	if q.Digest != "" {
		query += ` AND digest = ?`
		args = append(args, q.Digest)
	}
	if q.Newest {
		if q.BeforeID > 0 {
			query += ` AND id < ?`
			args = append(args, q.BeforeID)
		}
		query += ` ORDER BY id DESC LIMIT ?`
	} else {
		query += ` ORDER BY id LIMIT ?`
	}
	args = append(args, q.Limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store %s: events: %w", s.where, err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var e Event
		var at, data string
		if err := rows.Scan(&e.ID, &at, &e.Type, &e.Digest, &e.VulnID, &data); err != nil {
			return nil, err
		}
		e.At, e.Data = parseStamp(at), json.RawMessage(data)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Stored is an image's inventory as kept for re-matching.
type Stored struct {
	Digest    string
	Target    report.Target
	Inventory inventory.Inventory
}

// staleImagesSQL pages through the images matched against an older
// database; the index images_stale says which are stale.
const staleImagesSQL = `SELECT digest, target, inventory FROM images INDEXED BY images_stale WHERE db_updated < ? AND digest > ? ORDER BY digest LIMIT ?`

// StaleImages returns up to limit images, by digest after after, last
// matched against a database older than dbUpdated.
func (s *Store) StaleImages(ctx context.Context, dbUpdated, after string, limit int) ([]Stored, error) {
	query := staleImagesSQL
	if s.dialect == Postgres {
		query = strings.Replace(query, " INDEXED BY images_stale", "", 1)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), dbUpdated, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store %s: stale images: %w", s.where, err)
	}
	defer rows.Close()
	var out []Stored
	for rows.Next() {
		var st Stored
		var target, inv string
		if err := rows.Scan(&st.Digest, &target, &inv); err != nil {
			return nil, err
		}
		if err := errors.Join(json.Unmarshal([]byte(target), &st.Target), json.Unmarshal([]byte(inv), &st.Inventory)); err != nil {
			return nil, fmt.Errorf("store %s: image %s: %w", s.where, st.Digest, err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// Rematched is what a re-match changed in one image.
type Rematched struct {
	New, Resolved int
}

// Rematch replaces an image's findings with those of a newer database
// and records the difference as events. An image already matched against
// a database at least as new is left alone.
func (s *Store) Rematch(ctx context.Context, digest string, fs []finding.Finding, db *report.Database) (Rematched, error) {
	var out Rematched
	dbUpdated := normStamp(db.Updated)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var cur string
		lock := ""
		if s.dialect == Postgres {
			lock = " FOR UPDATE" // two workers re-matching the same image take turns
		}
		err := tx.QueryRowContext(ctx, s.q(`SELECT db_updated FROM images WHERE digest = ?`+lock), digest).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && cur >= dbUpdated) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
		}
		old, _, err := s.currentFindings(ctx, tx, digest)
		if err != nil {
			return err
		}
		if fs == nil {
			fs = []finding.Finding{}
		}
		fsJSON, _ := json.Marshal(fs)
		dbJSON, _ := json.Marshal(db)
		c := CountFindings(fs)
		if _, err := s.exec(ctx, tx, `UPDATE images SET findings = ?, db_facts = ?, db_updated = ?, critical = ?, high = ?, medium = ?, low = ?, negligible = ?, unknown = ? WHERE digest = ?`,
			string(fsJSON), string(dbJSON), dbUpdated, c.Critical, c.High, c.Medium, c.Low, c.Negligible, c.Unknown, digest); err != nil {
			return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
		}
		if err := s.putVulns(ctx, tx, digest, fs); err != nil {
			return err
		}
		now := time.Now()
		if err := s.markSeen(ctx, tx, digest, fs, Stamp(now)); err != nil {
			return err
		}
		gate, err := s.refreshImage(ctx, tx, digest, fs, now)
		if err != nil {
			return err
		}
		evs := diffEvents(digest, old, fs, map[string]any{"cause": CauseRematch, "db_updated": dbUpdated})
		for _, e := range evs {
			switch e.Type {
			case EventFindingNew:
				out.New++
			case EventFindingResolved:
				out.Resolved++
			}
		}
		return s.addEvents(ctx, tx, Stamp(now), append(evs, gate...))
	})
	return out, err
}

// Summary returns an image as listed (without findings or inventory).
func (s *Store) Summary(ctx context.Context, digest string) (ImageSummary, error) {
	im, err := scanSummary(s.db.QueryRowContext(ctx, s.q(`SELECT `+summaryColumns+` FROM images WHERE digest = ?`), digest))
	if errors.Is(err, sql.ErrNoRows) {
		return im, fmt.Errorf("image %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return im, fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
	}
	im.Tags, err = s.tags(ctx, digest)
	return im, err
}

// CountImagesWithVuln counts the stored images with a finding known by
// id, as kept in vuln_images by putVulns (one row read, however many
// images).
func (s *Store) CountImagesWithVuln(ctx context.Context, id string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT images FROM vuln_images WHERE vuln_id = ?`), strings.ToUpper(id)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store %s: images with %s: %w", s.where, id, err)
	}
	return n, nil
}
