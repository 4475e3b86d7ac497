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
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/policy"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
)

// Scanners says what a scan looks for beyond the inventory.
type Scanners struct {
	Vuln bool
}

// None reports whether the scan is inventory only.
func (s Scanners) None() bool { return !s.Vuln }

// ParseScanners reads --scanners values ("vuln", "none").
func ParseScanners(list []string) (Scanners, error) {
	var s Scanners
	for _, v := range list {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "vuln", "vulns", "vulnerabilities":
			s.Vuln = true
		case "none", "":
		default:
			return s, fmt.Errorf("--scanners: unknown scanner %q (have: vuln, none)", v)
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
}

// Inventoried is a target's inventory with what was learnt reading it.
type Inventoried struct {
	Target    report.Target
	Inventory inventory.Inventory
	Stats     scan.Stats
	Warnings  []analyze.LayerFileError
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
	res, err := scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(o.Mode), Parallel: o.Parallel, Logger: log})
	if err != nil {
		return nil, err
	}
	log.Debug("scan done", "duration", res.Stats.Duration, "packages", len(res.Inventory.Packages), "entries", res.Stats.Entries)
	for name, d := range res.Stats.PerAnalyzer {
		log.Debug("analyzer time", "analyzer", name, "duration", d)
	}
	return &Inventoried{Target: TargetOf(img), Inventory: res.Inventory, Stats: res.Stats, Warnings: res.Warnings}, nil
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

// Request is one whole scan.
type Request struct {
	Target    string
	Inventory InventoryOptions
	// Matcher finds vulnerabilities; nil scans the inventory only.
	Matcher Matcher
	Policy  policy.Options
	// Gate decides the verdict; nil means no gate.
	Gate *report.Gate
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
	inv, err := Inventory(ctx, req.Target, req.Inventory)
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
	if req.Matcher != nil {
		m, err := req.Matcher.Match(ctx, &inv.Inventory, req.Started)
		if err != nil {
			return nil, err
		}
		rep.Database = m.Database
		rep.Vulnerabilities = m.Findings
		for _, w := range Judge(rep, req.Policy) {
			log.Warn(w)
		}
	}
	if req.InUse != nil {
		applyInUse(rep, &inv.Inventory, req.InUse, log)
	}
	Verdict(rep, req.Gate)
	rep.Scan = Timing(req.Started, req.FixedTime)
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
	var warnings []string
	rep.Vulnerabilities, warnings = policy.Apply(rep.Vulnerabilities, pol)
	if rep.Vulnerabilities == nil {
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
	g.Failing = 0
	for i := range rep.Vulnerabilities {
		if g.Fails(&rep.Vulnerabilities[i]) {
			g.Failing++
		}
	}
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

// GateError is a failed gate: the scan worked and the verdict is "fail".
// Code is the exit code the user asked for.
type GateError struct {
	Code    int
	Failing int
	FailOn  finding.Severity
}

func (e *GateError) Error() string {
	return fmt.Sprintf("%d finding(s) at or above %s", e.Failing, e.FailOn)
}

// Failed returns a *GateError when the report's gate failed, else nil.
func Failed(rep *report.Report, code int) error {
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
