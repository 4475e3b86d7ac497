// Package pipeline is drydock's one scan pipeline: source → inventory →
// match → policy → report. The command line, the client mode and the
// server's workers all call it; they differ only in where the inventory
// comes from, where matching happens and what is done with the report.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/analyze/licensetext"
	"github.com/drydockscan/drydock/internal/analyze/secrets"
	"github.com/drydockscan/drydock/internal/cache"
	"github.com/drydockscan/drydock/internal/compliance"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/license"
	"github.com/drydockscan/drydock/internal/misconfig"
	"github.com/drydockscan/drydock/internal/policy"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/secret"
	"github.com/drydockscan/drydock/internal/source"
)

// Scanners says what a scan looks for beyond the inventory.
type Scanners struct {
	Vuln    bool
	Secret  bool
	Config  bool
	License bool
}

// DefaultScanners is what a scan looks for unless told otherwise.
var DefaultScanners = []string{"vuln", "secret", "config"}

// None reports whether the scan is inventory only.
func (s Scanners) None() bool { return !s.Vuln && !s.Secret && !s.Config && !s.License }

// List names the scanners that are on, in a fixed order.
func (s Scanners) List() []string {
	var out []string
	for _, x := range []struct {
		on   bool
		name string
	}{{s.Vuln, "vuln"}, {s.Secret, "secret"}, {s.Config, "config"}, {s.License, "license"}} {
		if x.on {
			out = append(out, x.name)
		}
	}
	return out
}

// ParseScanners reads --scanners values ("vuln", "secret", "config",
// "license", "none").
func ParseScanners(list []string) (Scanners, error) {
	var s Scanners
	for _, v := range list {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "vuln", "vulns", "vulnerabilities":
			s.Vuln = true
		case "secret", "secrets":
			s.Secret = true
		case "config", "misconfig", "misconfiguration", "misconfigurations":
			s.Config = true
		case "license", "licence", "licenses", "licences":
			s.License = true
		case "none", "":
		default:
			return s, fmt.Errorf("--scanners: unknown scanner %q (have: vuln, secret, config, license, none)", v)
		}
	}
	return s, nil
}

// InventoryOptions configure how a target becomes an inventory.
type InventoryOptions struct {
	Mode     analyze.Mode
	Source   source.Options
	Parallel int
	Logger   *slog.Logger
	// Cache, when set, is the layer cache the scan reads and fills.
	Cache *cache.Cache
	// Scanners decides whether secrets (every file of every layer) and
	// misconfigurations (config, history, final file system, Dockerfiles)
	// are looked for while the target is read.
	Scanners Scanners
	// Secret configures the secret rules (allow rules, size cap).
	Secret secret.Options
	// KeepFiles keeps the lists of files OS packages installed
	// (Package.Files), which joining a recorded run needs. Without it
	// they are dropped (no report or server keeps them), and an
	// unchanged image is answered by its merge in the layer cache.
	KeepFiles bool
}

// Inventoried is a target's inventory with what was learnt reading it.
type Inventoried struct {
	Target    report.Target
	Inventory inventory.Inventory
	Stats     scan.Stats
	Warnings  []analyze.LayerFileError
	// Secrets and Misconfigurations are what the secret and config
	// scanners found (nil when they were off).
	Secrets           []finding.Secret           `json:"secrets,omitempty"`
	Misconfigurations []finding.Misconfiguration `json:"misconfigurations,omitempty"`
	// Labels are the image's labels (policy conditions read them).
	Labels map[string]string `json:"labels,omitempty"`
}

// Inventory opens target and finds what is inside it.
func Inventory(ctx context.Context, target string, o InventoryOptions) (*Inventoried, error) {
	log := logger(o.Logger)
	o.Source.Logger = log
	img, err := source.Open(ctx, target, o.Source)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	log.Debug("image opened", "kind", img.Kind, "name", img.Name, "layers", len(img.Layers), "platform", platformOf(img))
	sc, err := secret.New(o.Secret)
	if err != nil {
		return nil, err
	}
	list := analyzers.For(o.Mode)
	if o.Scanners.Secret {
		list = append(list, secrets.New(sc))
	}
	if o.Scanners.License {
		list = append(list, licensetext.New(&license.Classifier{}))
	}
	out := &Inventoried{}
	var dockerfiles []string
	examine := func(results []*analyze.LayerResult, m *analyze.Merged) scan.Examined {
		var ex scan.Examined
		if o.Scanners.Secret {
			ex.Secrets = secret.Findings(results, m.Inventory.Layers, m.View.RemovedBy)
		}
		if o.Scanners.Config {
			ex.Misconfigurations = append([]finding.Misconfiguration{}, misconfig.Files(finalFiles(m.View))...)
			if img.Kind == source.KindDir {
				// Directories are never cached: this side effect is safe.
				dockerfiles = findDockerfiles(m.View)
			}
		}
		return ex
	}
	// What examine draws depends on these settings (the secret rules'
	// own settings are part of the secret analyzer's fingerprint).
	examineKey := fmt.Sprintf("secrets=%t config=%t", o.Scanners.Secret, o.Scanners.Config)
	// The entries the file checks look at are kept whole whatever the
	// scanners, so a layer's cached result does not depend on them.
	walker := analyze.Walker{Keep: misconfig.Keep, KeepName: misconfig.KeepName}
	res, err := scan.Image(ctx, img, scan.Options{Mode: o.Mode, Analyzers: list, Parallel: o.Parallel, Walker: walker, Cache: o.Cache, Logger: log,
		Examine: examine, ExamineKey: examineKey, DropFiles: !o.KeepFiles})
	if err != nil {
		return nil, err
	}
	out.Secrets = res.Examined.Secrets
	out.Misconfigurations = res.Examined.Misconfigurations
	if res.Stats.Cached != nil {
		log.Info("layer cache", "hits", res.Stats.CacheHits, "misses", res.Stats.CacheMisses)
		o.Cache.Record(ctx, img.Ref, res.Stats.CacheHits, res.Stats.CacheMisses, time.Now())
	}
	if o.Scanners.Secret && out.Secrets == nil {
		out.Secrets = []finding.Secret{}
	}
	if o.Scanners.Config {
		out.Misconfigurations = append(out.Misconfigurations, misconfig.Image(img.Config, sc)...)
		for _, p := range dockerfiles {
			ms, err := misconfig.DockerfileAt(img.Dir, p, sc)
			if err != nil {
				log.Warn("Dockerfile not checked", "path", p, "error", err)
				continue
			}
			out.Misconfigurations = append(out.Misconfigurations, ms...)
		}
		slices.SortStableFunc(out.Misconfigurations, finding.CompareMisconfigurations)
	}
	// History commands go into every report: build arguments and tokens
	// in them are redacted.
	for i := range res.Inventory.Layers {
		res.Inventory.Layers[i].CreatedBy = misconfig.RedactCommand(res.Inventory.Layers[i].CreatedBy, sc)
	}
	if img.Config != nil {
		out.Labels = img.Config.Config.Labels
	}
	log.Debug("scan done", "duration", res.Stats.Duration, "packages", len(res.Inventory.Packages), "entries", res.Stats.Entries)
	for name, d := range res.Stats.PerAnalyzer {
		log.Debug("analyzer time", "analyzer", name, "duration", d)
	}
	out.Target, out.Inventory, out.Stats, out.Warnings = TargetOf(img), res.Inventory, res.Stats, res.Warnings
	return out, nil
}

// Matched is what matching an inventory produced.
type Matched struct {
	// Findings are every vulnerability found, before any policy.
	Findings []finding.Finding
	// Database describes the database matched against.
	Database *report.Database
}

// Matcher finds the vulnerabilities of an inventory: against a local
// database, or by asking a drydock server.
type Matcher interface {
	Match(ctx context.Context, inv *inventory.Inventory, at time.Time) (*Matched, error)
}

// TargetMatcher is a Matcher that also wants to know what was scanned (a
// drydock server stores the inventory under the image's digest and
// names). Complete calls MatchTarget instead of Match when a Matcher has
// it.
type TargetMatcher interface {
	MatchTarget(ctx context.Context, target report.Target, inv *inventory.Inventory, at time.Time) (*Matched, error)
}

// Request is one whole scan.
type Request struct {
	Target    string
	Inventory InventoryOptions
	// Matcher finds vulnerabilities; nil scans the inventory only.
	Matcher Matcher
	Policy  policy.Options
	// Gate decides the verdict; nil means no gate.
	Gate *report.Gate
	// Scanners are the scanners that ran (the report lists them); License
	// is the licence policy, used when the licence scanner is on.
	Scanners Scanners
	License  license.Options
	// Compliance names the compliance report to build ("cis-docker-1.6").
	Compliance string
	// Rules is the policy file, if any.
	Rules *policy.Rules
	// InUse applies a recorded run (marks what it used; with Only, shows
	// only the findings in packages in use); nil for none.
	InUse *InUse
	Tool  report.Tool
	// Started is the scan's start time (SOURCE_DATE_EPOCH when set);
	// FixedTime leaves the duration out so reports are reproducible.
	Started   time.Time
	FixedTime bool
}

// Run scans the request's target and returns the judged report.
func Run(ctx context.Context, req Request) (*report.Report, error) {
	io := req.Inventory
	// The run's events are joined with the files OS packages installed.
	io.KeepFiles = io.KeepFiles || req.InUse != nil
	inv, err := Inventory(ctx, req.Target, io)
	if err != nil {
		return nil, err
	}
	return Complete(ctx, req, inv)
}

// Complete matches and judges an inventory made elsewhere (by Inventory,
// or by a client) and returns the report.
func Complete(ctx context.Context, req Request, inv *Inventoried) (*report.Report, error) {
	log := logger(req.Inventory.Logger)
	rep := report.New(req.Tool, inv.Target, &inv.Inventory)
	rep.Scanners = req.Scanners.List()
	if req.Scanners.Secret {
		rep.Secrets = nonNil(inv.Secrets)
	}
	if req.Scanners.Config {
		rep.Misconfigurations = nonNil(inv.Misconfigurations)
	}
	if req.Scanners.License {
		rep.Licenses = license.Findings(&inv.Inventory, req.License)
	}
	if req.Matcher != nil {
		var m *Matched
		var err error
		if tm, ok := req.Matcher.(TargetMatcher); ok {
			m, err = tm.MatchTarget(ctx, inv.Target, &inv.Inventory, req.Started)
		} else {
			m, err = req.Matcher.Match(ctx, &inv.Inventory, req.Started)
		}
		if err != nil {
			return nil, err
		}
		rep.Database = m.Database
		rep.Vulnerabilities = m.Findings
	}
	for _, w := range Judge(rep, req.Policy) {
		log.Warn(w)
	}
	if rep.Licenses != nil {
		for _, c := range license.Summary(rep.Licenses) {
			rep.LicenseSummary = append(rep.LicenseSummary, report.LicenseCount(c))
		}
	}
	if req.Compliance != "" {
		c, err := compliance.Build(req.Compliance, rep)
		if err != nil {
			return nil, err
		}
		rep.Compliance = c
	}
	if req.Rules != nil {
		res, err := req.Rules.Evaluate(rep, inv.Labels, req.Started)
		if err != nil {
			return nil, err
		}
		rep.Policy = res
		for _, v := range res.Violations {
			if v.Action == policy.ActionWarn {
				log.Warn("policy rule matched", "rule", v.Rule, "kind", v.Kind, "id", v.ID, "target", v.Target)
			}
		}
	}
	if req.InUse != nil {
		applyInUse(rep, &inv.Inventory, req.InUse, log)
	}
	Verdict(rep, req.Gate)
	rep.Scan = Timing(req.Started, req.FixedTime)
	CacheUse(rep, &inv.Stats)
	return rep, nil
}

// Judge applies the policy (severity filter, unfixed filter, ignore file,
// VEX) to the report's findings and returns the warnings it raised
// (expired ignore entries, …).
func Judge(rep *report.Report, pol policy.Options) []string {
	for _, d := range []string{rep.Target.ManifestDigest, rep.Target.IndexDigest, rep.Target.ConfigDigest} {
		if d != "" {
			pol.ImageDigests = append(pol.ImageDigests, d)
		}
	}
	matched := rep.Database != nil || rep.Vulnerabilities != nil
	all := policy.Findings{Vulnerabilities: rep.Vulnerabilities, Secrets: rep.Secrets,
		Misconfigurations: rep.Misconfigurations, Licenses: rep.Licenses}
	warnings := policy.ApplyAll(&all, pol)
	rep.Vulnerabilities, rep.Secrets, rep.Misconfigurations, rep.Licenses = all.Vulnerabilities, all.Secrets, all.Misconfigurations, all.Licenses
	if rep.Vulnerabilities == nil && matched {
		rep.Vulnerabilities = []finding.Finding{}
	}
	return warnings
}

// Verdict counts the findings that break the gate and records the
// verdict in the report. A nil gate leaves the report without one.
func Verdict(rep *report.Report, gate *report.Gate) {
	if gate == nil {
		return
	}
	g := *gate
	g.Failing = report.CountFailing(rep, &g)
	g.Failed = g.Failing > 0
	rep.Gate = &g
}

// Timing describes the scan run. With a fixed time the duration is left
// out, so the same input gives the same bytes.
func Timing(started time.Time, fixed bool) *report.Scan {
	s := &report.Scan{Started: started.UTC().Format(time.RFC3339)}
	if !fixed {
		s.DurationMS = time.Since(started).Milliseconds()
	}
	return s
}

// CacheUse records in the report which layers came from the layer cache
// and how many did; a scan without a cache leaves the report as it is.
func CacheUse(rep *report.Report, st *scan.Stats) {
	if st.Cached == nil || len(st.Cached) != len(rep.Target.Layers) {
		return
	}
	for i, c := range st.Cached {
		rep.Target.Layers[i].Cached = c
	}
	if rep.Scan == nil {
		rep.Scan = &report.Scan{}
	}
	rep.Scan.Cache = &report.CacheStats{Hits: st.CacheHits, Misses: st.CacheMisses}
}

// GateError is a failed gate: the scan worked and the verdict is "fail".
// Code is the exit code the user asked for.
type GateError struct {
	Code    int
	Failing int
	FailOn  finding.Severity
	// Policy is the policy file whose fail rules matched, when the
	// policy rather than --fail-on failed the scan.
	Policy string
}

func (e *GateError) Error() string {
	if e.Policy != "" {
		return fmt.Sprintf("%d policy violation(s) of %s", e.Failing, e.Policy)
	}
	return fmt.Sprintf("%d finding(s) at or above %s", e.Failing, e.FailOn)
}

// Failed returns a *GateError when the report's gate failed, else nil.
func Failed(rep *report.Report, code int) error {
	if rep.Policy != nil && rep.Policy.Failed && (rep.Gate == nil || !rep.Gate.Failed) {
		n := 0
		for _, v := range rep.Policy.Violations {
			if v.Action == policy.ActionFail {
				n++
			}
		}
		return &GateError{Code: code, Failing: n, Policy: rep.Policy.Source}
	}
	if rep.Gate == nil || !rep.Gate.Failed {
		return nil
	}
	return &GateError{Code: code, Failing: rep.Gate.Failing, FailOn: rep.Gate.FailOn}
}

// IsGate reports whether err is a failed gate, and its exit code.
func IsGate(err error) (int, bool) {
	var g *GateError
	if errors.As(err, &g) {
		return g.Code, true
	}
	return 0, false
}

func platformOf(img *source.Image) string {
	if img.Platform == nil {
		return ""
	}
	s := img.Platform.OS + "/" + img.Platform.Architecture
	if img.Platform.Variant != "" {
		s += "/" + img.Platform.Variant
	}
	return s
}

// TargetOf describes an opened image for reports.
func TargetOf(img *source.Image) report.Target {
	t := report.Target{
		Ref: img.Ref, Kind: string(img.Kind), Name: img.Name,
		ManifestDigest: img.ManifestDigest, IndexDigest: img.IndexDigest, Platform: platformOf(img),
	}
	if img.Image != nil {
		if d, err := img.Image.ConfigName(); err == nil {
			t.ConfigDigest = d.String()
		}
	}
	if img.Config != nil && !img.Config.Created.IsZero() {
		t.Created = img.Config.Created.UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	return t
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
