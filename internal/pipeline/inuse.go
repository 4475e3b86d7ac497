package pipeline

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/run"
	"github.com/drydockscan/drydock/internal/run/trace"
)

// InUse applies a recorded run of the image to a scan: the packages the
// run used (a file of theirs opened, mapped or executed) and the findings
// in them are marked in_use.
type InUse struct {
	// Events are the run's events (drydock run --events, read with
	// run.LoadEvents).
	Events []trace.Event
	// Source names where the events came from (the file), for the report.
	Source string
	// Only shows only the findings in packages in use. Like --severity it
	// is a display filter: the gate counts the findings shown.
	Only bool
}

// LoadInUse reads a drydock run --events file for Request.InUse.
func LoadInUse(path string, only bool) (*InUse, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--runtime-events: %w", err)
	}
	defer f.Close()
	evs, err := run.LoadEvents(f)
	if err != nil {
		return nil, fmt.Errorf("--runtime-events %s: %w", path, err)
	}
	return &InUse{Events: evs, Source: path, Only: only}, nil
}

// applyInUse joins the run's events with the inventory, marks the report's
// packages and findings, records the runtime section and, with Only,
// leaves out the findings in packages not in use.
func applyInUse(rep *report.Report, inv *inventory.Inventory, u *InUse, log *slog.Logger) {
	used := run.PackagesInUse(u.Events, inv, run.InUseOptions{})
	rt := &report.Runtime{Events: u.Source, EventCount: len(u.Events), OnlyInUse: u.Only, Packages: []report.RuntimePackage{}}
	keys := map[string]bool{}
	for _, p := range used {
		keys[report.InUseKey(p.Type, p.Name, p.Version, p.Path)] = true
		rt.Packages = append(rt.Packages, report.RuntimePackage{
			Type: p.Type, Name: p.Name, Version: p.Version, PURL: p.PURL, Path: p.Path, Evidence: p.Evidence, How: p.How,
		})
	}
	for i := range rep.Packages {
		p := &rep.Packages[i]
		p.InUse = keys[report.InUseKey(p.Type, p.Name, p.Version, p.Path)]
	}
	var shown []finding.Finding
	for i := range rep.Vulnerabilities {
		f := &rep.Vulnerabilities[i]
		f.InUse = keys[report.InUseKey(f.Package.Type, f.Package.Name, f.Package.Version, f.Package.Path)]
		if u.Only && !f.InUse {
			rt.Hidden++
			continue
		}
		shown = append(shown, *f)
	}
	if u.Only && rep.Vulnerabilities != nil {
		if shown == nil {
			shown = []finding.Finding{}
		}
		rep.Vulnerabilities = shown
	}
	rep.Runtime = rt
	if len(used) == 0 {
		log.Warn("the recorded run used none of the image's packages: was it a run of this image?", "events", u.Source, "count", len(u.Events))
	}
	log.Debug("runtime events applied", "events", u.Source, "packages_in_use", len(used), "hidden", rt.Hidden)
}
