package license

import (
	"slices"
	"sync"

	classifier "github.com/google/licenseclassifier/v2"
	"github.com/google/licenseclassifier/v2/assets"
)

// MinConfidence is the confidence a text match needs to count.
const MinConfidence = 0.9

// MaxTextSize caps the text classified.
const MaxTextSize = 256 << 10

// Classifier finds licences in texts with Google's licence classifier
// (github.com/google/licenseclassifier/v2). Its corpus of licence texts
// is loaded on first use, not at start-up. It is safe for concurrent use.
type Classifier struct {
	once sync.Once
	c    *classifier.Classifier
	err  error
	mu   sync.Mutex
}

// Match is a licence found in a text.
type Match struct {
	// ID is the SPDX id.
	ID         string
	Confidence float64
}

// Classify returns the licences whose full text (not a header or a
// reference) appears in text with at least MinConfidence, best first.
func (c *Classifier) Classify(text []byte) ([]Match, error) {
	c.once.Do(func() { c.c, c.err = assets.DefaultClassifier() })
	if c.err != nil {
		return nil, c.err
	}
	if len(text) > MaxTextSize {
		text = text[:MaxTextSize]
	}
	c.mu.Lock()
	res := c.c.Match(text)
	c.mu.Unlock()
	var out []Match
	for _, m := range res.Matches {
		if m.MatchType != "License" || m.Confidence < MinConfidence {
			continue
		}
		id := m.Name
		if a, ok := classifierNames[id]; ok {
			id = a
		}
		if i := slices.IndexFunc(out, func(o Match) bool { return o.ID == id }); i >= 0 {
			out[i].Confidence = max(out[i].Confidence, m.Confidence)
			continue
		}
		out = append(out, Match{ID: id, Confidence: m.Confidence})
	}
	slices.SortStableFunc(out, func(a, b Match) int {
		switch {
		case a.Confidence > b.Confidence:
			return -1
		case a.Confidence < b.Confidence:
			return 1
		}
		return 0
	})
	return out, nil
}

// classifierNames maps the classifier's names that are not SPDX ids to
// the SPDX id of the same text.
var classifierNames = map[string]string{
	"OpenLDAP": "OLDAP-2.8",
	"RSA":      "RSA-MD",
	"cURL":     "curl",
}
