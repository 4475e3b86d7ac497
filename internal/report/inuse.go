package report

import (
	"fmt"

	"github.com/drydockscan/drydock/internal/finding"
)

// Runtime says what a recorded run of the image (drydock run --events,
// applied with drydock image --runtime-events) showed to be in use. With
// it, a package or finding without in_use was not used by that run; without
// it, nothing is known about use.
type Runtime struct {
	// Events names the events file; EventCount is how many events it held.
	Events     string `json:"events"`
	EventCount int    `json:"event_count"`
	// OnlyInUse says the findings shown are only those in packages in use
	// (--only-in-use); Hidden counts the findings it left out.
	OnlyInUse bool `json:"only_in_use"`
	Hidden    int  `json:"hidden,omitempty"`
	// Packages are the packages in use, in inventory order, with what
	// showed it.
	Packages []RuntimePackage `json:"packages"`
}

// RuntimePackage is one package in use and its evidence.
type RuntimePackage struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	Version string `json:"version"`
	PURL    string `json:"purl,omitempty"`
	Path    string `json:"path"`
	// Evidence is the first file of the package the run opened, mapped or
	// executed; How says how it was joined: "owned-file" (an OS package's
	// file list), "binary" (the file the package was found in),
	// "module-dir" (node_modules/<pkg>, site-packages/<pkg>), "owner" (a
	// language package installed by an OS package in use).
	Evidence string `json:"evidence"`
	How      string `json:"how"`
}

// InUseKey identifies a package of the inventory for the runtime join:
// type, name, version and primary path (what a finding's package keeps of
// it).
func InUseKey(typ, name, version, path string) string {
	return typ + "\x00" + name + "\x00" + version + "\x00" + path
}

// runtimeEvidence is the evidence of the package of f, "" when it is not
// in use or the report has no runtime section.
func runtimeEvidence(r *Report, f *finding.Finding) string {
	if r.Runtime == nil || !f.InUse {
		return ""
	}
	k := InUseKey(f.Package.Type, f.Package.Name, f.Package.Version, f.Package.Path)
	for i := range r.Runtime.Packages {
		p := &r.Runtime.Packages[i]
		if InUseKey(p.Type, p.Name, p.Version, p.Path) == k {
			return p.Evidence
		}
	}
	return ""
}

// inUseText says in words that a finding's package is in use.
func inUseText(r *Report, f *finding.Finding) string {
	if !f.InUse {
		return ""
	}
	if e := runtimeEvidence(r, f); e != "" {
		return "in use at runtime (" + e + ")"
	}
	return "in use at runtime"
}

// countInUse counts the findings in packages in use.
func countInUse(fs []finding.Finding) int {
	n := 0
	for i := range fs {
		if fs[i].InUse {
			n++
		}
	}
	return n
}

// runtimeSummary says in one line what the runtime section holds.
func runtimeSummary(r *Report) string {
	rt := r.Runtime
	s := fmt.Sprintf("Runtime: %d packages in use by the run recorded in %s (%d events)", len(rt.Packages), rt.Events, rt.EventCount)
	if rt.OnlyInUse {
		s += fmt.Sprintf("; only findings in them shown (--only-in-use: %d hidden)", rt.Hidden)
	}
	return s
}
