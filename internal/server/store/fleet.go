package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/finding"
)

// FleetImage is one image in the fleet's export: its open findings by
// severity and the oldest critical finding that has a fix but is still in
// the image (what PCI DSS 6.3.3 and similar standards ask to be shown).
type FleetImage struct {
	Digest     string   `json:"digest"`
	Repository string   `json:"repository"`
	Tags       []string `json:"tags"`
	Open       Counts   `json:"open"`
	Accepted   int      `json:"accepted"`
	Gate       string   `json:"gate,omitempty"`
	LastScan   string   `json:"last_scan"`
	Gone       bool     `json:"gone"`
	// OldestFixable is the oldest open critical finding with a fix
	// available, nil when there is none.
	OldestFixable *Overdue `json:"oldest_fixable_critical,omitempty"`
}

// Overdue is an open finding with a fix available and how long it has
// been in the image.
type Overdue struct {
	VulnID  string `json:"vulnerability"`
	Package string `json:"package"`
	Version string `json:"version"`
	Fixed   string `json:"fixed_versions"`
	// FirstSeen is when the store first saw the finding in this image;
	// FixSeen when it first saw a fix for it.
	FirstSeen time.Time `json:"first_seen"`
	FixSeen   time.Time `json:"fix_seen,omitzero"`
	// AgeDays counts whole days since FirstSeen.
	AgeDays int `json:"age_days"`
}

// Fleet returns every stored image for the export, by repository and
// digest.
func (s *Store) Fleet(ctx context.Context, now time.Time) ([]FleetImage, error) {
	out := []FleetImage{}
	after := ""
	for {
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT digest, repository, findings, critical, high, medium, low, negligible, unknown, accepted, gate, last_scan, gone_at
			FROM images WHERE digest > ? ORDER BY digest LIMIT 200`), after)
		if err != nil {
			return nil, fmt.Errorf("store %s: fleet: %w", s.where, err)
		}
		type raw struct {
			im  FleetImage
			doc string
		}
		var page []raw
		for rows.Next() {
			var r raw
			c := &r.im.Open
			var gone string
			if err := rows.Scan(&r.im.Digest, &r.im.Repository, &r.doc, &c.Critical, &c.High, &c.Medium, &c.Low, &c.Negligible, &c.Unknown, &r.im.Accepted, &r.im.Gate, &r.im.LastScan, &gone); err != nil {
				rows.Close()
				return nil, err
			}
			r.im.Gone = gone != ""
			page = append(page, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			after = r.im.Digest
			im := r.im
			tags, err := s.tags(ctx, im.Digest)
			if err != nil {
				return nil, err
			}
			im.Tags = []string{}
			for _, t := range tags {
				if t.Removed.IsZero() {
					im.Tags = append(im.Tags, t.Tag)
				}
			}
			var fs []finding.Finding
			if err := json.Unmarshal([]byte(r.doc), &fs); err != nil {
				return nil, fmt.Errorf("store %s: image %s: findings: %w", s.where, im.Digest, err)
			}
			if im.OldestFixable, err = s.oldestFixable(ctx, im.Digest, im.Repository, fs, now); err != nil {
				return nil, err
			}
			out = append(out, im)
		}
	}
	return out, nil
}

func (s *Store) oldestFixable(ctx context.Context, digest, repo string, fs []finding.Finding, now time.Time) (*Overdue, error) {
	var cands []*finding.Finding
	for i := range fs {
		if fs[i].Severity == finding.Critical && len(fs[i].FixedVersions) > 0 && fs[i].Suppression == nil {
			cands = append(cands, &fs[i])
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	list, err := s.triageFor(ctx, s.db, digest, repo)
	if err != nil {
		return nil, err
	}
	seen := map[string][2]string{}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT fkey, first_seen, fix_seen FROM finding_seen WHERE digest = ?`), digest)
	if err != nil {
		return nil, fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
	}
	for rows.Next() {
		var k, first, fix string
		if err := rows.Scan(&k, &first, &fix); err != nil {
			rows.Close()
			return nil, err
		}
		seen[k] = [2]string{first, fix}
	}
	rows.Close()
	var best *Overdue
	for _, f := range cands {
		if Suppressing(list, digest, repo, f, now) != nil {
			continue
		}
		st := seen[seenKey(f)]
		o := &Overdue{VulnID: f.ID, Package: f.Package.Name, Version: f.Package.Version, Fixed: strings.Join(f.FixedVersions, ", "),
			FirstSeen: parseStamp(st[0]), FixSeen: parseStamp(st[1])}
		if !o.FirstSeen.IsZero() {
			o.AgeDays = int(now.Sub(o.FirstSeen).Hours() / 24)
		}
		if best == nil || (!o.FirstSeen.IsZero() && (best.FirstSeen.IsZero() || o.FirstSeen.Before(best.FirstSeen))) ||
			(o.FirstSeen.Equal(best.FirstSeen) && o.VulnID < best.VulnID) {
			best = o
		}
	}
	return best, nil
}

// ImagePackage is one package of a stored image.
type ImagePackage struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	Version string `json:"version"`
	PURL    string `json:"purl"`
	Path    string `json:"path"`
	Layer   string `json:"layer"`
}

// ImagePackages returns a page of an image's packages, by type and name,
// whose name contains q, and how many there are in all.
func (s *Store) ImagePackages(ctx context.Context, digest, q string, offset, limit int) ([]ImagePackage, int, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	where := `WHERE digest = ?`
	args := []any{digest}
	if q != "" {
		where += ` AND LOWER(name) LIKE ?`
		args = append(args, "%"+strings.ToLower(strings.NewReplacer("%", "", "_", "").Replace(q))+"%")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM image_packages `+where), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store %s: packages of %s: %w", s.where, digest, err)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT type, name, version, purl, path, layer FROM image_packages `+where+` ORDER BY type, name, version, path LIMIT ? OFFSET ?`), append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store %s: packages of %s: %w", s.where, digest, err)
	}
	defer rows.Close()
	out := []ImagePackage{}
	for rows.Next() {
		var p ImagePackage
		if err := rows.Scan(&p.Type, &p.Name, &p.Version, &p.PURL, &p.Path, &p.Layer); err != nil {
			return nil, 0, err
		}
		out = append(out, p)
	}
	return out, total, rows.Err()
}
