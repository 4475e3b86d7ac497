package layers

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"
)

// Rules are dive's CI rules; an empty or "disabled" value turns a rule
// off.
type Rules struct {
	// LowestEfficiency fails when efficiency is below it (0…1).
	LowestEfficiency string
	// HighestWastedBytes fails when wasted bytes exceed it ("20MB", "1GiB",
	// a plain number of bytes).
	HighestWastedBytes string
	// HighestUserWastedPercent fails when wasted bytes over the user
	// layers' bytes exceed it (a fraction: 0.1 is 10%).
	HighestUserWastedPercent string
}

// DefaultRules are dive's defaults.
var DefaultRules = Rules{LowestEfficiency: "0.9", HighestWastedBytes: "disabled", HighestUserWastedPercent: "0.1"}

// RuleResult is the verdict of one rule.
type RuleResult struct {
	Rule   string `json:"rule"`
	Status string `json:"status"` // PASS, FAIL, SKIP
	Detail string `json:"detail,omitempty"`
}

func disabled(v string) bool {
	v = strings.TrimSpace(strings.ToLower(v))
	return v == "" || v == "disabled" || v == "off"
}

// Validate checks the rules' values.
func (r Rules) Validate() error {
	if !disabled(r.LowestEfficiency) {
		if _, err := strconv.ParseFloat(r.LowestEfficiency, 64); err != nil {
			return fmt.Errorf("--lowest-efficiency %q: not a number", r.LowestEfficiency)
		}
	}
	if !disabled(r.HighestWastedBytes) {
		if _, err := humanize.ParseBytes(r.HighestWastedBytes); err != nil {
			return fmt.Errorf("--highest-wasted-bytes %q: not a size (like 20MB or 1GiB)", r.HighestWastedBytes)
		}
	}
	if !disabled(r.HighestUserWastedPercent) {
		if _, err := strconv.ParseFloat(r.HighestUserWastedPercent, 64); err != nil {
			return fmt.Errorf("--highest-user-wasted-percent %q: not a number", r.HighestUserWastedPercent)
		}
	}
	return nil
}

// Evaluate applies the rules to a; failed counts the failing rules.
func (r Rules) Evaluate(a *Analysis) (results []RuleResult, failed int) {
	add := func(rule string, fail bool, detail string) {
		st := "PASS"
		if fail {
			st = "FAIL"
			failed++
		}
		results = append(results, RuleResult{Rule: rule, Status: st, Detail: detail})
	}
	skip := func(rule string) {
		results = append(results, RuleResult{Rule: rule, Status: "SKIP", Detail: "disabled"})
	}
	if disabled(r.LowestEfficiency) {
		skip("lowest-efficiency")
	} else {
		t, _ := strconv.ParseFloat(r.LowestEfficiency, 64)
		add("lowest-efficiency", t > a.Efficiency, fmt.Sprintf("efficiency %s, threshold %s", fmtFloat(a.Efficiency), fmtFloat(t)))
	}
	if disabled(r.HighestWastedBytes) {
		skip("highest-wasted-bytes")
	} else {
		t, _ := humanize.ParseBytes(r.HighestWastedBytes)
		add("highest-wasted-bytes", uint64(a.WastedBytes) > t, fmt.Sprintf("wasted %d bytes, threshold %d", a.WastedBytes, t))
	}
	if disabled(r.HighestUserWastedPercent) {
		skip("highest-user-wasted-percent")
	} else {
		t, _ := strconv.ParseFloat(r.HighestUserWastedPercent, 64)
		u := a.UserWasted()
		add("highest-user-wasted-percent", t < u, fmt.Sprintf("user wasted %s, threshold %s", fmtFloat(u), fmtFloat(t)))
	}
	return results, failed
}

func fmtFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "inf"
	}
	return strconv.FormatFloat(f, 'f', 4, 64)
}
