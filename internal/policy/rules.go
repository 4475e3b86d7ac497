package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"go.yaml.in/yaml/v3"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/report"
)

// DefaultRulesFile is where drydock looks for a policy file when none is
// named.
const DefaultRulesFile = ".drydock/policy.yaml"

// Rule actions.
const (
	ActionWarn = "warn"
	ActionFail = "fail"
)

// MaxRulesFileSize caps a policy file.
const MaxRulesFileSize = 1 << 20

// Rules is a parsed policy file: rules over every kind of finding, each
// warn or fail.
type Rules struct {
	Source string
	Rules  []Rule
}

// Rule is one policy rule. A finding violates it when every condition it
// sets holds.
type Rule struct {
	ID          string `yaml:"id"`
	Description string `yaml:"description"`
	// Action is warn or fail.
	Action string `yaml:"action"`
	// Kind limits the rule to vulnerability, secret, misconfiguration,
	// license or database (the database's own age).
	Kind string `yaml:"kind"`
	// Severity lists severities; MinSeverity is a threshold.
	Severity    []string `yaml:"severity"`
	MinSeverity string   `yaml:"min_severity"`
	// Fixed: whether a fixed version exists (vulnerabilities).
	Fixed *bool `yaml:"fixed"`
	// KEV: whether the vulnerability is known exploited.
	KEV *bool `yaml:"kev"`
	// FixAgeDays: the fix was published (the advisory's publication date)
	// at least this many days before the scan.
	FixAgeDays int `yaml:"fix_age_days"`
	// LicenseCategory lists licence categories.
	LicenseCategory []string `yaml:"license_category"`
	// IDs lists finding ids: vulnerability ids or aliases, secret rules,
	// check ids, licence rules or SPDX ids.
	IDs []string `yaml:"ids"`
	// DBAgeHours: the database is at least this many hours old (kind
	// database).
	DBAgeHours int `yaml:"db_age_hours"`
	// When is a CEL condition over finding, pkg (the package), image and db.
	When string `yaml:"when"`
	// Line is the rule's line in the file.
	Line int `yaml:"-"`

	sevs   []finding.Severity
	minSev finding.Severity
	prg    cel.Program
}

var ruleKeys = []string{"id", "description", "action", "kind", "severity", "min_severity", "fixed", "kev", "fix_age_days", "license_category", "ids", "db_age_hours", "when"}

var kinds = []string{finding.KindVulnerability, finding.KindSecret, finding.KindMisconfiguration, finding.KindLicense, "database"}

// ErrRules marks a policy file that cannot be used.
var ErrRules = errors.New("policy file")

// LoadRules reads and compiles the policy file at p.
func LoadRules(p string) (*Rules, error) {
	b, err := readCapped(p, MaxRulesFileSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRules, err)
	}
	return ParseRules(b, p)
}

// ParseRules parses and compiles a policy file; source names it in
// errors. Unknown keys, bad actions, kinds, severities and CEL that does
// not compile are errors naming the rule and line.
func ParseRules(data []byte, source string) (*Rules, error) {
	type doc struct {
		Rules []yaml.Node `yaml:"rules"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var d doc
	if err := dec.Decode(&d); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w %s: %w", ErrRules, source, err)
	}
	env, err := celEnv()
	if err != nil {
		return nil, err
	}
	out := &Rules{Source: source}
	ids := map[string]bool{}
	for i := range d.Rules {
		n := &d.Rules[i]
		var r Rule
		if n.Kind == yaml.MappingNode {
			for k := 0; k+1 < len(n.Content); k += 2 {
				if key := n.Content[k].Value; !slices.Contains(ruleKeys, key) {
					return nil, fmt.Errorf("%w %s: rule %d (line %d): unknown key %q (known: %s)", ErrRules, source, i+1, n.Content[k].Line, key, strings.Join(ruleKeys, ", "))
				}
			}
		}
		if err := n.Decode(&r); err != nil {
			return nil, fmt.Errorf("%w %s: rule %d (line %d): %w", ErrRules, source, i+1, n.Line, err)
		}
		r.Line = n.Line
		if err := r.compile(env); err != nil {
			return nil, fmt.Errorf("%w %s: rule %q (line %d): %w", ErrRules, source, r.ID, n.Line, err)
		}
		if ids[r.ID] {
			return nil, fmt.Errorf("%w %s: rule %q (line %d): duplicate id", ErrRules, source, r.ID, n.Line)
		}
		ids[r.ID] = true
		out.Rules = append(out.Rules, r)
	}
	return out, nil
}

func celEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("finding", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("pkg", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("image", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("db", cel.MapType(cel.StringType, cel.DynType)),
		cel.OptionalTypes(),
	)
}

func (r *Rule) compile(env *cel.Env) error {
	if r.ID == "" {
		return errors.New("id is required")
	}
	switch r.Action {
	case ActionWarn, ActionFail:
	default:
		return fmt.Errorf("action %q: want warn or fail", r.Action)
	}
	if r.Kind != "" && !slices.Contains(kinds, r.Kind) {
		return fmt.Errorf("kind %q: want one of %s", r.Kind, strings.Join(kinds, ", "))
	}
	for _, s := range r.Severity {
		sev, ok := finding.ParseSeverity(s)
		if !ok {
			return fmt.Errorf("unknown severity %q", s)
		}
		r.sevs = append(r.sevs, sev)
	}
	if r.MinSeverity != "" {
		sev, ok := finding.ParseSeverity(r.MinSeverity)
		if !ok {
			return fmt.Errorf("unknown min_severity %q", r.MinSeverity)
		}
		r.minSev = sev
	}
	if r.DBAgeHours > 0 && r.Kind != "database" {
		return errors.New("db_age_hours needs kind: database")
	}
	if r.When != "" {
		ast, iss := env.Compile(r.When)
		if iss != nil && iss.Err() != nil {
			return fmt.Errorf("when: CEL does not compile: %w", iss.Err())
		}
		if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
			return fmt.Errorf("when: CEL condition is %s, want bool", ast.OutputType())
		}
		prg, err := env.Program(ast, cel.CostLimit(1_000_000))
		if err != nil {
			return fmt.Errorf("when: %w", err)
		}
		r.prg = prg
	}
	return nil
}

// subject is one thing a rule is evaluated on.
type subject struct {
	kind, id, target string
	sev              finding.Severity
	suppressed       bool
	finding, pkg     map[string]any
}

// Evaluate runs every rule over every unsuppressed finding of the report
// (and once over the database, for kind database rules). labels are the
// image's labels; now is the scan's time.
func (rs *Rules) Evaluate(r *report.Report, labels map[string]string, now time.Time) (*report.PolicyResult, error) {
	res := &report.PolicyResult{Source: rs.Source, Violations: []report.PolicyViolation{}}
	img := imageVars(r, labels)
	db := map[string]any{"present": r.Database != nil, "age_hours": int64(-1), "updated": ""}
	if r.Database != nil {
		db["age_hours"], db["updated"] = int64(r.Database.AgeHours), r.Database.Updated
	}
	subjects := subjectsOf(r, now)
	for i := range rs.Rules {
		rule := &rs.Rules[i]
		if rule.Kind == "database" {
			if r.Database == nil {
				continue
			}
			s := subject{kind: "database", finding: map[string]any{"kind": "database"}, pkg: map[string]any{}}
			ok, err := rule.matches(&s, img, db)
			if err != nil {
				return nil, err
			}
			if ok {
				res.Violations = append(res.Violations, violation(rule, &s))
			}
			continue
		}
		for j := range subjects {
			s := &subjects[j]
			if s.suppressed {
				continue
			}
			ok, err := rule.matches(s, img, db)
			if err != nil {
				return nil, err
			}
			if ok {
				res.Violations = append(res.Violations, violation(rule, s))
			}
		}
	}
	for _, v := range res.Violations {
		if v.Action == ActionFail {
			res.Failed = true
		}
	}
	return res, nil
}

func violation(rule *Rule, s *subject) report.PolicyViolation {
	return report.PolicyViolation{Rule: rule.ID, Action: rule.Action, Message: rule.Description, Kind: s.kind, ID: s.id, Target: s.target}
}

func (r *Rule) matches(s *subject, img, db map[string]any) (bool, error) {
	if r.Kind != "" && r.Kind != s.kind {
		return false, nil
	}
	if s.kind == "database" {
		if r.DBAgeHours > 0 && db["age_hours"].(int64) < int64(r.DBAgeHours) {
			return false, nil
		}
	} else {
		if len(r.sevs) > 0 && !slices.Contains(r.sevs, s.sev) {
			return false, nil
		}
		if r.MinSeverity != "" && s.sev.Rank() < r.minSev.Rank() {
			return false, nil
		}
		if len(r.IDs) > 0 && !slices.ContainsFunc(r.IDs, func(id string) bool { return idOf(s, id) }) {
			return false, nil
		}
		if r.Fixed != nil && (s.kind != finding.KindVulnerability || s.finding["fixed"].(bool) != *r.Fixed) {
			return false, nil
		}
		if r.KEV != nil && (s.kind != finding.KindVulnerability || s.finding["kev"].(bool) != *r.KEV) {
			return false, nil
		}
		if r.FixAgeDays > 0 && (s.kind != finding.KindVulnerability || !s.finding["fixed"].(bool) || s.finding["fix_age_days"].(int64) < int64(r.FixAgeDays)) {
			return false, nil
		}
		if len(r.LicenseCategory) > 0 && (s.kind != finding.KindLicense || !slices.Contains(r.LicenseCategory, s.finding["category"].(string))) {
			return false, nil
		}
	}
	if r.prg == nil {
		return true, nil
	}
	out, _, err := r.prg.Eval(map[string]any{"finding": s.finding, "pkg": s.pkg, "image": img, "db": db})
	if err != nil {
		// A condition reading a field the finding lacks (a label the
		// image has not) does not match; other errors are the rule's.
		if strings.Contains(err.Error(), "no such key") {
			return false, nil
		}
		return false, fmt.Errorf("%w: rule %q (line %d): evaluating when on %s %s: %w", ErrRules, r.ID, r.Line, s.kind, s.id, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("%w: rule %q (line %d): when gave %v, want a bool", ErrRules, r.ID, r.Line, out.Value())
	}
	return b, nil
}

func idOf(s *subject, id string) bool {
	if strings.EqualFold(s.id, id) {
		return true
	}
	if al, ok := s.finding["aliases"].([]string); ok {
		return slices.ContainsFunc(al, func(a string) bool { return strings.EqualFold(a, id) })
	}
	return false
}

func imageVars(r *report.Report, labels map[string]string) map[string]any {
	l := map[string]any{}
	for k, v := range labels {
		l[k] = v
	}
	img := map[string]any{
		"ref": r.Target.Ref, "name": r.Target.Name, "kind": r.Target.Kind, "platform": r.Target.Platform,
		"config_digest": r.Target.ConfigDigest, "manifest_digest": r.Target.ManifestDigest,
		"created": r.Target.Created, "labels": l, "os": "", "os_version": "",
	}
	if r.OS != nil {
		img["os"], img["os_version"] = r.OS.ID, r.OS.VersionID
	}
	return img
}

func pkgVars(p *finding.Package) map[string]any {
	return map[string]any{
		"type": p.Type, "name": p.Name, "version": p.Version, "purl": p.PURL, "path": p.Path,
		"source_name": p.SourceName, "layer_index": int64(p.LayerIndex), "ecosystem": p.Ecosystem,
	}
}

// subjectsOf turns every finding of the report into CEL variables.
func subjectsOf(r *report.Report, now time.Time) []subject {
	var out []subject
	for i := range r.Vulnerabilities {
		f := &r.Vulnerabilities[i]
		age := int64(-1)
		if t, err := time.Parse(time.RFC3339, f.Published); err == nil && t.Year() > 1970 {
			age = int64(now.Sub(t).Hours() / 24)
		}
		aliases := append([]string{}, f.Aliases...)
		out = append(out, subject{
			kind: finding.KindVulnerability, id: f.ID, target: f.Package.Name + " " + f.Package.Version, sev: f.Severity,
			suppressed: f.Suppression != nil,
			finding: map[string]any{
				"kind": finding.KindVulnerability, "id": f.ID, "aliases": aliases, "severity": string(f.Severity),
				"status": f.Status, "fixed": len(f.FixedVersions) > 0, "fixed_versions": append([]string{}, f.FixedVersions...),
				"kev": f.KEV != nil, "published": f.Published, "fix_age_days": age, "title": f.Title,
			},
			pkg: pkgVars(&f.Package),
		})
	}
	for i := range r.Secrets {
		s := &r.Secrets[i]
		removed := int64(-1)
		if s.RemovedInLayerIndex != nil {
			removed = int64(*s.RemovedInLayerIndex)
		}
		out = append(out, subject{
			kind: finding.KindSecret, id: s.ID, target: s.Path, sev: s.Severity, suppressed: s.Suppression != nil,
			finding: map[string]any{
				"kind": finding.KindSecret, "id": s.ID, "severity": string(s.Severity), "path": s.Path,
				"layer_index": int64(s.LayerIndex), "removed_in_layer_index": removed, "title": s.Title,
			},
			pkg: map[string]any{},
		})
	}
	for i := range r.Misconfigurations {
		m := &r.Misconfigurations[i]
		out = append(out, subject{
			kind: finding.KindMisconfiguration, id: m.ID, target: m.Path, sev: m.Severity, suppressed: m.Suppression != nil,
			finding: map[string]any{
				"kind": finding.KindMisconfiguration, "id": m.ID, "severity": string(m.Severity), "cis": m.CIS,
				"source": m.Source, "path": m.Path, "title": m.Title,
			},
			pkg: map[string]any{},
		})
	}
	for i := range r.Licenses {
		l := &r.Licenses[i]
		out = append(out, subject{
			kind: finding.KindLicense, id: l.ID, target: l.Package.Name + " " + l.Package.Version, sev: l.Severity,
			suppressed: l.Suppression != nil,
			finding: map[string]any{
				"kind": finding.KindLicense, "id": l.ID, "aliases": []string{l.License}, "severity": string(l.Severity),
				"license": l.License, "category": l.Category, "title": l.Title,
			},
			pkg: pkgVars(&l.Package),
		})
	}
	return out
}
