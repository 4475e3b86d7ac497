// Package cvss parses CVSS vectors (v2.0, v3.0, v3.1, v4.0) into scores and
// qualitative ratings. Parsing and scoring are done by
// github.com/pandatix/go-cvss, which implements each version's
// specification; this package picks the version from the vector's prefix,
// reduces the results to one shape and maps OSV severity entries onto it.
package cvss

import (
	"errors"
	"fmt"
	"math"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// Version is a CVSS version.
type Version string

// CVSS versions.
const (
	V2  Version = "2.0"
	V30 Version = "3.0"
	V31 Version = "3.1"
	V40 Version = "4.0"
)

// Qualitative ratings. CVSS v2 has no "none" and no "critical" (NVD's
// v2 scale: low < 4.0 ≤ medium < 7.0 ≤ high).
const (
	None     = "none"
	Low      = "low"
	Medium   = "medium"
	High     = "high"
	Critical = "critical"
)

// ErrVector is returned (wrapped) for a vector that is not valid CVSS.
var ErrVector = errors.New("invalid CVSS vector")

// maxVectorLen bounds the input: the longest valid v4.0 vector (every
// metric of every group given) is well under 300 bytes.
const maxVectorLen = 1024

// Score is a parsed vector with its scores.
type Score struct {
	Version Version
	// Vector is the vector in the library's canonical form (metrics in the
	// specification's order).
	Vector string
	// Base is the base score: base metrics only.
	Base float64
	// Score takes every metric group the vector gives into account: the
	// environmental score (which equals the temporal score, and that the
	// base score, when those groups are not given) for v2 and v3, CVSS-BTE
	// for v4.0.
	Score float64
	// Rating is the qualitative rating of Score.
	Rating string
	// BaseRating is the qualitative rating of Base.
	BaseRating string
}

// Parse parses a CVSS vector: "CVSS:4.0/…", "CVSS:3.1/…", "CVSS:3.0/…", or
// a v2 vector without prefix ("AV:N/AC:L/Au:N/C:P/I:P/A:P"), as NVD and
// OSV write them.
func Parse(vector string) (Score, error) {
	vector = strings.TrimSpace(vector)
	if len(vector) > maxVectorLen {
		return Score{}, fmt.Errorf("%w: %d bytes", ErrVector, len(vector))
	}
	var (
		s   Score
		err error
	)
	switch {
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		s, err = parse40(vector)
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		var c *gocvss31.CVSS31
		if c, err = gocvss31.ParseVector(vector); err == nil {
			s = Score{Version: V31, Vector: c.Vector(), Base: c.BaseScore()}
			s.Score = pick(c.Get, v3Temporal, v3Environmental, "X", c.BaseScore, c.TemporalScore, c.EnvironmentalScore)
		}
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		var c *gocvss30.CVSS30
		if c, err = gocvss30.ParseVector(vector); err == nil {
			s = Score{Version: V30, Vector: c.Vector(), Base: c.BaseScore()}
			s.Score = pick(c.Get, v3Temporal, v3Environmental, "X", c.BaseScore, c.TemporalScore, c.EnvironmentalScore)
		}
	case strings.HasPrefix(vector, "CVSS:"):
		return Score{}, fmt.Errorf("%w: unsupported version in %q", ErrVector, vector)
	default:
		var c *gocvss20.CVSS20
		if c, err = gocvss20.ParseVector(vector); err == nil {
			s = Score{Version: V2, Vector: c.Vector(), Base: c.BaseScore()}
			s.Score = pick(c.Get, v2Temporal, v2Environmental, "ND", c.BaseScore, c.TemporalScore, c.EnvironmentalScore)
		}
	}
	if err != nil {
		return Score{}, fmt.Errorf("%w %q: %w", ErrVector, vector, err)
	}
	if !validScore(s.Base) || !validScore(s.Score) {
		return Score{}, fmt.Errorf("%w %q: score out of range", ErrVector, vector)
	}
	s.Rating = Rating(s.Version, s.Score)
	s.BaseRating = Rating(s.Version, s.Base)
	return s, nil
}

// Temporal and environmental metrics of v2 and v3, and the value that marks
// a metric as not defined.
var (
	v2Temporal      = []string{"E", "RL", "RC"}
	v2Environmental = []string{"CDP", "TD", "CR", "IR", "AR"}
	v3Temporal      = []string{"E", "RL", "RC"}
	v3Environmental = []string{"CR", "IR", "AR", "MAV", "MAC", "MPR", "MUI", "MS", "MC", "MI", "MA"}
)

// pick returns the score of the most specific metric group the vector
// defines: environmental if any environmental metric is defined, else
// temporal if any temporal metric is, else base. (The v3.1 environmental
// formula differs from the base formula for a changed scope even when no
// environmental metric is given, so "environmental" must not be used as the
// default.)
func pick(get func(string) (string, error), temporal, environmental []string, undefined string, base, temp, env func() float64) float64 {
	defined := func(metrics []string) bool {
		for _, m := range metrics {
			if v, err := get(m); err == nil && v != undefined {
				return true
			}
		}
		return false
	}
	switch {
	case defined(environmental):
		return env()
	case defined(temporal):
		return temp()
	default:
		return base()
	}
}

func validScore(f float64) bool { return !math.IsNaN(f) && f >= 0 && f <= 10 }

// v4BaseMetrics are the CVSS v4.0 base metrics in specification order.
var v4BaseMetrics = [...]string{"AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA"}

func parse40(vector string) (Score, error) {
	c, err := gocvss40.ParseVector(vector)
	if err != nil {
		return Score{}, err
	}
	var b strings.Builder
	b.WriteString("CVSS:4.0")
	for _, m := range v4BaseMetrics {
		v, err := c.Get(m)
		if err != nil {
			return Score{}, err
		}
		b.WriteString("/" + m + ":" + v)
	}
	base, err := gocvss40.ParseVector(b.String())
	if err != nil {
		return Score{}, err
	}
	return Score{Version: V40, Vector: c.Vector(), Base: base.Score(), Score: c.Score()}, nil
}

// Rating returns the qualitative rating of a score in a CVSS version.
func Rating(v Version, score float64) string {
	if v == V2 {
		switch {
		case score >= 7.0:
			return High
		case score >= 4.0:
			return Medium
		default:
			return Low
		}
	}
	switch {
	case score >= 9.0:
		return Critical
	case score >= 7.0:
		return High
	case score >= 4.0:
		return Medium
	case score >= 0.1:
		return Low
	default:
		return None
	}
}

// FromSeverity parses a record's CVSS severity entry, checking that the
// vector's version agrees with the entry's type (CVSS_V3 holds v3.0 and
// v3.1 vectors). Vendor ratings are not CVSS and return an error.
func FromSeverity(sev vulndb.Severity) (Score, error) {
	s, err := Parse(sev.Score)
	if err != nil {
		return Score{}, err
	}
	want := map[Version]string{V2: vulndb.CVSSv2, V30: vulndb.CVSSv3, V31: vulndb.CVSSv3, V40: vulndb.CVSSv4}[s.Version]
	if sev.Type != want {
		return Score{}, fmt.Errorf("%w: %s vector %q in a %s entry", ErrVector, s.Version, sev.Score, sev.Type)
	}
	return s, nil
}
