package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/finding"
)

// Triage states.
const (
	// TriageAccepted: the risk is accepted, with a reason, until an
	// expiry. Accepted findings do not notify and do not fail the gate.
	TriageAccepted = "accepted"
	// TriageFalsePositive: the finding is wrong for these images.
	TriageFalsePositive = "false_positive"
	// TriageOpen: still to be fixed (an assignment without a decision).
	TriageOpen = "open"
)

// More event types.
const (
	// EventFindingKEV: a finding entered CISA's KEV catalogue.
	EventFindingKEV = "finding.kev"
	// EventFixAvailable: a finding that had no fix has one now.
	EventFixAvailable = "finding.fix_available"
	// EventGateChanged: an image's verdict under the server's gate
	// changed (data: from, to, failing).
	EventGateChanged = "gate.changed"
	// EventScanFailed: a scan failed for good (data: scan_id, ref, error).
	EventScanFailed = "scan.failed"
	// EventTagMoved: a tag now names this image instead of another
	// (data: repository, tag, from).
	EventTagMoved = "tag.moved"
	// EventTagRemoved: a watched tag is no longer in its registry.
	EventTagRemoved = "tag.removed"
	// EventImageGone: the image is no longer in its registry.
	EventImageGone = "image.gone"
	// EventTriageExpired: an acceptance expired; its findings count again.
	EventTriageExpired = "triage.expired"
)

// Triage is one decision about findings. Empty Digest, Repository,
// VulnID or Package mean "any": an entry with only a Digest covers every
// finding of that image; one with a Repository and a VulnID covers that
// vulnerability in every image of the repository.
type Triage struct {
	ID         string    `json:"id"`
	Digest     string    `json:"digest,omitempty"`
	Repository string    `json:"repository,omitempty"`
	VulnID     string    `json:"vulnerability,omitempty"`
	Package    string    `json:"package,omitempty"`
	State      string    `json:"state"`
	Reason     string    `json:"reason,omitempty"`
	Expires    time.Time `json:"expires,omitzero"`
	// Expired is when the server saw the acceptance expire.
	Expired   time.Time `json:"expired,omitzero"`
	Assignee  string    `json:"assignee,omitempty"`
	CreatedBy string    `json:"created_by"`
	Created   time.Time `json:"created"`
	UpdatedBy string    `json:"updated_by"`
	Updated   time.Time `json:"updated"`
}

// Active reports whether the entry suppresses findings at t.
func (tr *Triage) Active(t time.Time) bool {
	if tr.State != TriageAccepted && tr.State != TriageFalsePositive {
		return false
	}
	return tr.Expires.IsZero() || t.Before(tr.Expires)
}

// Covers reports whether the entry is about finding f of the image
// (digest, repository).
func (tr *Triage) Covers(digest, repository string, f *finding.Finding) bool {
	if tr.Digest != "" && tr.Digest != digest {
		return false
	}
	if tr.Repository != "" && tr.Repository != repository {
		return false
	}
	if tr.Package != "" && tr.Package != f.Package.Name {
		return false
	}
	if tr.VulnID == "" {
		return true
	}
	if strings.EqualFold(tr.VulnID, f.ID) {
		return true
	}
	return slices.ContainsFunc(f.Aliases, func(a string) bool { return strings.EqualFold(a, tr.VulnID) })
}

// Suppressing returns the active entry of list that covers f, or nil.
func Suppressing(list []Triage, digest, repository string, f *finding.Finding, at time.Time) *Triage {
	for i := range list {
		if list[i].Active(at) && list[i].Covers(digest, repository, f) {
			return &list[i]
		}
	}
	return nil
}

// TriageInput is a decision to record. The key (Digest, Repository,
// VulnID, Package) names the entry: recording the same key again
// changes it.
type TriageInput struct {
	Digest     string
	Repository string
	VulnID     string
	Package    string
	State      string
	Reason     string
	Expires    time.Time
	Assignee   string
}

// Errors of triage input.
var ErrBadTriage = errors.New("invalid triage")

const triageColumns = `id, digest, repository, vuln_id, package, state, reason, expires, expired_at, assignee, created_by, created_at, updated_by, updated_at`

func scanTriage(row interface{ Scan(...any) error }) (Triage, error) {
	var t Triage
	var exp, expired, created, updated string
	err := row.Scan(&t.ID, &t.Digest, &t.Repository, &t.VulnID, &t.Package, &t.State, &t.Reason, &exp, &expired, &t.Assignee, &t.CreatedBy, &created, &t.UpdatedBy, &updated)
	t.Expires, t.Expired, t.Created, t.Updated = parseStamp(exp), parseStamp(expired), parseStamp(created), parseStamp(updated)
	return t, err
}

// SetTriage records a decision by actor, writes it to the audit log and
// recounts the images it covers (their open findings and gate verdict).
func (s *Store) SetTriage(ctx context.Context, actor string, in TriageInput) (Triage, error) {
	in.VulnID = strings.ToUpper(strings.TrimSpace(in.VulnID))
	switch in.State {
	case TriageAccepted:
		if strings.TrimSpace(in.Reason) == "" || in.Expires.IsZero() {
			return Triage{}, fmt.Errorf("%w: an acceptance needs a reason and an expiry", ErrBadTriage)
		}
		if !in.Expires.After(time.Now()) {
			return Triage{}, fmt.Errorf("%w: the expiry is in the past", ErrBadTriage)
		}
	case TriageFalsePositive:
		if strings.TrimSpace(in.Reason) == "" {
			return Triage{}, fmt.Errorf("%w: a false positive needs a reason", ErrBadTriage)
		}
	case TriageOpen:
	default:
		return Triage{}, fmt.Errorf("%w: state %q: want accepted, false_positive or open", ErrBadTriage, in.State)
	}
	if in.Digest == "" && in.Repository == "" && in.VulnID == "" {
		return Triage{}, fmt.Errorf("%w: name an image (digest), a repository or a vulnerability", ErrBadTriage)
	}
	if len(in.Reason) > 4096 || len(in.Assignee) > 256 || len(in.Package) > 1024 || len(in.VulnID) > 128 || len(in.Digest) > 256 || len(in.Repository) > 1024 {
		return Triage{}, fmt.Errorf("%w: a field is too long", ErrBadTriage)
	}
	now := time.Now()
	var out Triage
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if in.Digest != "" {
			var one int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM images WHERE digest = ?`), in.Digest).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("image %s: %w", in.Digest, ErrNotFound)
			} else if err != nil {
				return fmt.Errorf("store %s: %w", s.where, err)
			}
		}
		prev, err := scanTriage(tx.QueryRowContext(ctx, s.q(`SELECT `+triageColumns+` FROM triage WHERE digest = ? AND repository = ? AND vuln_id = ? AND package = ?`),
			in.Digest, in.Repository, in.VulnID, in.Package))
		existed := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store %s: triage: %w", s.where, err)
		}
		out = Triage{
			ID: NewID()[:16], Digest: in.Digest, Repository: in.Repository, VulnID: in.VulnID, Package: in.Package,
			State: in.State, Reason: in.Reason, Expires: in.Expires, Assignee: in.Assignee,
			CreatedBy: actor, Created: now, UpdatedBy: actor, Updated: now,
		}
		if existed {
			out.ID, out.CreatedBy, out.Created = prev.ID, prev.CreatedBy, prev.Created
			if in.State == TriageOpen && in.Assignee == "" {
				out.Assignee = prev.Assignee
			}
			_, err = s.exec(ctx, tx, `UPDATE triage SET state = ?, reason = ?, expires = ?, expired_at = '', assignee = ?, updated_by = ?, updated_at = ? WHERE id = ?`,
				out.State, out.Reason, Stamp(out.Expires), out.Assignee, actor, Stamp(now), out.ID)
		} else {
			_, err = s.exec(ctx, tx, `INSERT INTO triage (`+triageColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?)`,
				out.ID, out.Digest, out.Repository, out.VulnID, out.Package, out.State, out.Reason, Stamp(out.Expires), out.Assignee, actor, Stamp(now), actor, Stamp(now))
		}
		if err != nil {
			return fmt.Errorf("store %s: triage: %w", s.where, err)
		}
		action := "triage." + in.State
		if in.State == TriageOpen && existed && prev.State != TriageOpen {
			action = "triage.reopened"
		} else if in.State == TriageOpen {
			action = "triage.assigned"
		}
		data := map[string]any{"triage": out}
		if existed {
			data["previous"] = prev
		}
		if err := s.audit(ctx, tx, now, actor, action, triageTarget(out), data); err != nil {
			return err
		}
		return s.refreshCovered(ctx, tx, out, now)
	})
	return out, err
}

// DeleteTriage removes a decision (the findings it covered count again).
func (s *Store) DeleteTriage(ctx context.Context, actor, id string) error {
	now := time.Now()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		prev, err := scanTriage(tx.QueryRowContext(ctx, s.q(`SELECT `+triageColumns+` FROM triage WHERE id = ?`), id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("triage %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store %s: triage: %w", s.where, err)
		}
		if _, err := s.exec(ctx, tx, `DELETE FROM triage WHERE id = ?`, id); err != nil {
			return fmt.Errorf("store %s: triage: %w", s.where, err)
		}
		if err := s.audit(ctx, tx, now, actor, "triage.deleted", triageTarget(prev), map[string]any{"previous": prev}); err != nil {
			return err
		}
		return s.refreshCovered(ctx, tx, prev, now)
	})
}

func triageTarget(t Triage) string {
	var parts []string
	for _, p := range []string{t.Digest, t.Repository, t.VulnID, t.Package} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

// refreshCovered recounts every image an entry may cover.
func (s *Store) refreshCovered(ctx context.Context, tx *sql.Tx, t Triage, now time.Time) error {
	query := `SELECT digest FROM images WHERE 1 = 1`
	var args []any
	if t.Digest != "" {
		query += ` AND digest = ?`
		args = append(args, t.Digest)
	}
	if t.Repository != "" {
		query += ` AND repository = ?`
		args = append(args, t.Repository)
	}
	if t.VulnID != "" {
		query += ` AND digest IN (SELECT digest FROM image_vulns WHERE vuln_id = ?)`
		args = append(args, t.VulnID)
	}
	rows, err := tx.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.where, err)
	}
	var digests []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return err
		}
		digests = append(digests, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, d := range digests {
		evs, err := s.refreshImage(ctx, tx, d, nil, now)
		if err != nil {
			return err
		}
		if err := s.addEvents(ctx, tx, Stamp(now), evs); err != nil {
			return err
		}
	}
	return nil
}

// triageFor returns the entries that may cover an image.
func (s *Store) triageFor(ctx context.Context, x execer, digest, repository string) ([]Triage, error) {
	return s.queryTriage(ctx, x, `SELECT `+triageColumns+` FROM triage WHERE (digest = ? OR digest = '') AND (repository = ? OR repository = '') AND state <> ?`,
		digest, repository, TriageOpen)
}

// TriageFor returns the decisions (of any state) that may cover an image.
func (s *Store) TriageFor(ctx context.Context, digest, repository string) ([]Triage, error) {
	return s.queryTriage(ctx, s.db, `SELECT `+triageColumns+` FROM triage WHERE (digest = ? OR digest = '') AND (repository = ? OR repository = '') ORDER BY created_at, id`,
		digest, repository)
}

// queryTriage runs a query for triageColumns and reads every row.
func (s *Store) queryTriage(ctx context.Context, x execer, query string, args ...any) ([]Triage, error) {
	rows, err := x.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store %s: triage: %w", s.where, err)
	}
	defer rows.Close()
	out := []Triage{}
	for rows.Next() {
		t, err := scanTriage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// SuppressedBy returns the active decision covering a finding of an
// image, or nil.
func (s *Store) SuppressedBy(ctx context.Context, digest string, f *finding.Finding, at time.Time) (*Triage, error) {
	var repo string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT repository FROM images WHERE digest = ?`), digest).Scan(&repo)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.where, err)
	}
	list, err := s.triageFor(ctx, s.db, digest, repo)
	if err != nil {
		return nil, err
	}
	return Suppressing(list, digest, repo, f, at), nil
}

// TriageQuery selects decisions.
type TriageQuery struct {
	State  string
	Digest string
	VulnID string
	After  string
	Limit  int
}

// ListTriage lists decisions by id.
func (s *Store) ListTriage(ctx context.Context, q TriageQuery) ([]Triage, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	query := `SELECT ` + triageColumns + ` FROM triage WHERE id > ?`
	args := []any{q.After}
	if q.State != "" {
		query += ` AND state = ?`
		args = append(args, q.State)
	}
	if q.Digest != "" {
		query += ` AND digest = ?`
		args = append(args, q.Digest)
	}
	if q.VulnID != "" {
		query += ` AND vuln_id = ?`
		args = append(args, strings.ToUpper(q.VulnID))
	}
	query += ` ORDER BY id LIMIT ?`
	args = append(args, q.Limit)
	return s.queryTriage(ctx, s.db, query, args...)
}

// ExpireTriage marks acceptances whose expiry has passed as expired,
// records each in the audit log and as an event, and recounts the images
// they covered (their findings count again). It returns how many expired.
func (s *Store) ExpireTriage(ctx context.Context, now time.Time) (int, error) {
	due, err := s.queryTriage(ctx, s.db, `SELECT `+triageColumns+` FROM triage WHERE expires <> '' AND expires <= ? AND expired_at = ''`, Stamp(now))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range due {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := s.exec(ctx, tx, `UPDATE triage SET expired_at = ? WHERE id = ? AND expired_at = ''`, Stamp(now), t.ID)
			if err != nil {
				return fmt.Errorf("store %s: triage: %w", s.where, err)
			}
			if k, _ := res.RowsAffected(); k == 0 {
				return nil // another process did it
			}
			n++
			t.Expired = now
			if err := s.audit(ctx, tx, now, "drydock", "triage.expired", triageTarget(t), map[string]any{"triage": t}); err != nil {
				return err
			}
			data, _ := json.Marshal(map[string]any{"triage": t})
			if err := s.addEvents(ctx, tx, Stamp(now), []Event{{Type: EventTriageExpired, Digest: t.Digest, VulnID: t.VulnID, Data: data}}); err != nil {
				return err
			}
			return s.refreshCovered(ctx, tx, t, now)
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// refreshImage recounts an image's open findings (those no active
// decision covers) and its gate verdict; fs, when nil, is read from the
// image. It returns a gate.changed event when the verdict changed.
func (s *Store) refreshImage(ctx context.Context, tx *sql.Tx, digest string, fs []finding.Finding, now time.Time) ([]Event, error) {
	var repo, gate, doc string
	err := tx.QueryRowContext(ctx, s.q(`SELECT repository, gate, findings FROM images WHERE digest = ?`), digest).Scan(&repo, &gate, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
	}
	if fs == nil {
		if err := json.Unmarshal([]byte(doc), &fs); err != nil {
			return nil, fmt.Errorf("store %s: image %s: findings: %w", s.where, digest, err)
		}
	}
	list, err := s.triageFor(ctx, tx, digest, repo)
	if err != nil {
		return nil, err
	}
	open := make([]finding.Finding, 0, len(fs))
	accepted := 0
	for i := range fs {
		if fs[i].Suppression == nil && Suppressing(list, digest, repo, &fs[i], now) != nil {
			accepted++
			continue
		}
		open = append(open, fs[i])
	}
	c := CountFindings(open)
	verdict, failing := "", 0
	if s.failOn != "" {
		for i := range open {
			if open[i].Suppression == nil && open[i].Severity.Rank() >= s.failOn.Rank() {
				failing++
			}
		}
		verdict = "pass"
		if failing > 0 {
			verdict = "fail"
		}
	}
	if _, err := s.exec(ctx, tx, `UPDATE images SET critical = ?, high = ?, medium = ?, low = ?, negligible = ?, unknown = ?, accepted = ?, gate = ? WHERE digest = ?`,
		c.Critical, c.High, c.Medium, c.Low, c.Negligible, c.Unknown, accepted, verdict, digest); err != nil {
		return nil, fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
	}
	if gate == "" || gate == verdict || verdict == "" {
		return nil, nil
	}
	data, _ := json.Marshal(map[string]any{"from": gate, "to": verdict, "failing": failing, "fail_on": s.failOn, "repository": repo})
	return []Event{{Type: EventGateChanged, Digest: digest, Data: data}}, nil
}

// Comment is a note on an image or a finding.
type Comment struct {
	ID      int64     `json:"id"`
	Digest  string    `json:"digest,omitempty"`
	VulnID  string    `json:"vulnerability,omitempty"`
	Package string    `json:"package,omitempty"`
	Author  string    `json:"author"`
	Body    string    `json:"body"`
	At      time.Time `json:"at"`
}

// AddComment records a comment and audits it.
func (s *Store) AddComment(ctx context.Context, c Comment) (Comment, error) {
	c.VulnID = strings.ToUpper(strings.TrimSpace(c.VulnID))
	if strings.TrimSpace(c.Body) == "" || len(c.Body) > 16384 {
		return c, fmt.Errorf("%w: a comment needs a body (at most 16 KiB)", ErrBadTriage)
	}
	if c.Digest == "" && c.VulnID == "" {
		return c, fmt.Errorf("%w: a comment is about an image (digest) or a vulnerability", ErrBadTriage)
	}
	c.At = time.Now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if c.Digest != "" {
			var one int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM images WHERE digest = ?`), c.Digest).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("image %s: %w", c.Digest, ErrNotFound)
			} else if err != nil {
				return err
			}
		}
		q := `INSERT INTO comments (digest, vuln_id, package, author, body, at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`
		if err := tx.QueryRowContext(ctx, s.q(q), c.Digest, c.VulnID, c.Package, c.Author, c.Body, Stamp(c.At)).Scan(&c.ID); err != nil {
			return fmt.Errorf("store %s: comment: %w", s.where, err)
		}
		return s.audit(ctx, tx, c.At, c.Author, "comment.added", triageTarget(Triage{Digest: c.Digest, VulnID: c.VulnID, Package: c.Package}), map[string]any{"comment": c})
	})
	return c, err
}

// Comments returns the comments on an image and/or a vulnerability.
func (s *Store) Comments(ctx context.Context, digest, vulnID string) ([]Comment, error) {
	query := `SELECT id, digest, vuln_id, package, author, body, at FROM comments WHERE 1 = 1`
	var args []any
	if digest != "" {
		query += ` AND digest = ?`
		args = append(args, digest)
	}
	if vulnID != "" {
		query += ` AND vuln_id = ?`
		args = append(args, strings.ToUpper(vulnID))
	}
	query += ` ORDER BY id LIMIT 1000`
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store %s: comments: %w", s.where, err)
	}
	defer rows.Close()
	out := []Comment{}
	for rows.Next() {
		var c Comment
		var at string
		if err := rows.Scan(&c.ID, &c.Digest, &c.VulnID, &c.Package, &c.Author, &c.Body, &at); err != nil {
			return nil, err
		}
		c.At = parseStamp(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID     int64           `json:"id"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Target string          `json:"target,omitempty"`
	Data   json.RawMessage `json:"data"`
}

func (s *Store) audit(ctx context.Context, tx *sql.Tx, at time.Time, actor, action, target string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO audit (at, actor, action, target, data) VALUES (?, ?, ?, ?, ?)`, Stamp(at), actor, action, target, string(b)); err != nil {
		return fmt.Errorf("store %s: audit: %w", s.where, err)
	}
	return nil
}

// Audit records an action that changes nothing else in the store (a
// token made, a configuration read).
func (s *Store) Audit(ctx context.Context, actor, action, target string, data any) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.audit(ctx, tx, time.Now(), actor, action, target, data) })
}

// AuditLog returns audit entries after id after, oldest first; with
// newestFirst, the newest entries before id after (0: the newest).
func (s *Store) AuditLog(ctx context.Context, after int64, limit int, newestFirst bool) ([]AuditEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	query := `SELECT id, at, actor, action, target, data FROM audit WHERE id > ? ORDER BY id LIMIT ?`
	if newestFirst {
		if after <= 0 {
			after = 1 << 62
		}
		query = `SELECT id, at, actor, action, target, data FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?`
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), after, limit)
	if err != nil {
		return nil, fmt.Errorf("store %s: audit: %w", s.where, err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at, data string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &data); err != nil {
			return nil, err
		}
		e.At, e.Data = parseStamp(at), json.RawMessage(data)
		out = append(out, e)
	}
	return out, rows.Err()
}
