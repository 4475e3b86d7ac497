// Package runreport is the report of a sandboxed run (drydock run): what
// ran, what it touched on disk and on the network, the alerts the rules
// raised and the packages it used, as JSON (documented in docs/run.md), a
// table or an HTML page.
package runreport

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/run"
	"github.com/drydockscan/drydock/internal/run/netobs"
	"github.com/drydockscan/drydock/internal/run/rules"
	"github.com/drydockscan/drydock/internal/run/sandbox"
)

// Schema names this report's format.
const Schema = "drydock-run/v1"

// Report is the run report.
type Report struct {
	Schema string `json:"schema"`
	Tool   Tool   `json:"tool"`
	Target Target `json:"target"`
	// Tracer is the tracer that recorded processes and files ("ebpf",
	// "ptrace", or "none").
	Tracer string  `json:"tracer"`
	Run    RunInfo `json:"run"`
	// Alerts are the rules that fired, most severe first.
	Alerts    []rules.Alert `json:"alerts"`
	Processes []run.Process `json:"processes"`
	Files     run.Files     `json:"files"`
	Network   Network       `json:"network"`
	// PackagesInUse are the inventory's packages the run used; null when
	// no inventory was joined.
	PackagesInUse []run.InUse `json:"packages_in_use"`
	Output        Output      `json:"output"`
	Gate          *Gate       `json:"gate,omitempty"`
	Warnings      []string    `json:"warnings,omitempty"`
}

// Tool names drydock.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Target is the image that ran.
type Target struct {
	Ref          string `json:"ref"`
	Kind         string `json:"kind,omitempty"`
	Name         string `json:"name,omitempty"`
	Platform     string `json:"platform,omitempty"`
	ConfigDigest string `json:"config_digest,omitempty"`
}

// RunInfo says how the run went.
type RunInfo struct {
	Runtime string `json:"runtime"`
	// TracerMode is how the ptrace tracer stopped the workload: "seccomp"
	// (only at the traced calls, which the sandbox's seccomp filter sends
	// it) or "every-syscall"; empty for the other tracers.
	TracerMode string `json:"tracer_mode,omitempty"`
	Network    string `json:"network"`
	// RootFS is "overlay" (copy-on-write), "copy" (a private unpacked
	// copy) or "container-layer" (a Docker engine's, --runtime docker).
	RootFS   string   `json:"rootfs"`
	Args     []string `json:"args"`
	UID      uint32   `json:"uid"`
	GID      uint32   `json:"gid"`
	Exposed  []string `json:"exposed,omitempty"`
	Started  string   `json:"started"`
	SetupMS  int64    `json:"setup_ms"`
	RanMS    int64    `json:"ran_ms"`
	TimedOut bool     `json:"timed_out"`
	// Exit is the program's exit; 128+N when a signal ended it (137 is
	// drydock's kill at the end of --duration, or the OOM killer).
	Exit     sandbox.Exit     `json:"exit"`
	Limits   Limits           `json:"limits"`
	Counters sandbox.Counters `json:"counters"`
	Events   int              `json:"events"`
	// EventsTruncated says the tracer produced more than drydock keeps.
	EventsTruncated bool `json:"events_truncated,omitempty"`
}

// Limits are the sandbox's limits.
type Limits struct {
	MemoryBytes int64   `json:"memory_bytes"`
	CPUs        float64 `json:"cpus"`
	Pids        int64   `json:"pids"`
	DurationMS  int64   `json:"duration_ms"`
}

// Network is what the sandbox did on its network.
type Network struct {
	DNS         []netobs.DNSQuery `json:"dns"`
	Connections []run.Connection  `json:"connections"`
	Listening   []run.Listening   `json:"listening"`
	Packets     int               `json:"packets"`
	Truncated   bool              `json:"truncated,omitempty"`
}

// Output is what the program wrote (at most MaxOutputReport bytes each).
type Output struct {
	Stdout    string `json:"stdout"`
	Stderr    string `json:"stderr"`
	Truncated bool   `json:"truncated,omitempty"`
}

// MaxOutputReport caps each of stdout and stderr in the report.
const MaxOutputReport = 64 << 10

// Gate is the verdict of --fail-on over the alerts.
type Gate struct {
	FailOn  finding.Severity `json:"fail_on"`
	Failed  bool             `json:"failed"`
	Failing int              `json:"failing"`
}

// Apply sets the gate over the alerts.
func (r *Report) Apply(failOn finding.Severity) {
	g := &Gate{FailOn: failOn}
	for _, a := range r.Alerts {
		if a.Severity.Rank() >= failOn.Rank() {
			g.Failing++
		}
	}
	g.Failed = g.Failing > 0
	r.Gate = g
}

// Build makes the report of a run. inUse is nil when no inventory was
// joined.
func Build(tool Tool, target Target, res *run.Result, set *rules.Set, inUse []run.InUse, duration time.Duration) *Report {
	r := &Report{
		Schema: Schema, Tool: tool, Target: target, Tracer: res.Tracer,
		Run: RunInfo{
			Runtime: res.Runtime, TracerMode: res.TracerMode, Network: res.Network, RootFS: res.RootFS, Args: res.Args,
			UID: res.User.UID, GID: res.User.GID, Exposed: res.Exposed,
			Started: res.Started.UTC().Format(time.RFC3339Nano), SetupMS: res.Setup.Milliseconds(), RanMS: res.Ran.Milliseconds(),
			TimedOut: res.TimedOut, Exit: res.Exit, Counters: res.Counters,
			Limits:          Limits{MemoryBytes: res.Limits.MemoryBytes, CPUs: res.Limits.CPUs, Pids: res.Limits.Pids, DurationMS: duration.Milliseconds()},
			Events:          len(res.Events),
			EventsTruncated: res.EventsTruncated,
		},
		Alerts:        set.Evaluate(res.RuleEvents()),
		Processes:     res.ProcessTree(),
		Files:         res.FileUses(),
		Network:       Network{DNS: res.Net.DNS, Connections: res.Connections(), Listening: res.ListeningPorts(), Packets: res.Net.Packets, Truncated: res.Net.Truncated},
		PackagesInUse: inUse,
		Output:        Output{Stdout: clip(res.Output.Stdout), Stderr: clip(res.Output.Stderr), Truncated: res.Output.Truncated || len(res.Output.Stdout) > MaxOutputReport || len(res.Output.Stderr) > MaxOutputReport},
		Warnings:      res.Warnings,
	}
	if r.Network.DNS == nil {
		r.Network.DNS = []netobs.DNSQuery{}
	}
	if res.Tracer == run.TracerNone {
		r.Warnings = append(r.Warnings, "no tracer: processes, file opens and system calls were not recorded; files written come from the copy-on-write layer, network facts from the observer")
	}
	for _, s := range res.Skipped {
		r.Warnings = append(r.Warnings, fmt.Sprintf("not in the sandbox's file system: %s (%s, %s)", s.Path, s.Reason, s.Layer))
	}
	sort.Strings(r.Warnings)
	return r
}

func clip(b []byte) string {
	if len(b) > MaxOutputReport {
		b = b[:MaxOutputReport]
	}
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	return string(b)
}

// Formats of the run report.
var Formats = []string{"table", "json", "html"}

// Write writes the report in format.
func Write(w io.Writer, format string, r *Report) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "table":
		return writeTable(w, r)
	case "html":
		return writeHTML(w, r)
	}
	return fmt.Errorf("unknown run report format %q (have: table, json, html)", format)
}
