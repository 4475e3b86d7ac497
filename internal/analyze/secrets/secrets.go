// Package secrets is the analyzer that looks for secrets in every file of
// every layer, in the walk's single pass over the layer: text files up to
// the scanner's size cap are offered to it; binary content is skipped.
package secrets

import (
	"context"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/secret"
)

// Name is the analyzer's name in layer results.
const Name = "secret"

// Analyzer finds secrets with a secret.Scanner.
type Analyzer struct {
	s *secret.Scanner
}

// New returns the analyzer for a scanner.
func New(s *secret.Scanner) *Analyzer { return &Analyzer{s: s} }

// Name implements analyze.Analyzer.
func (a *Analyzer) Name() string { return Name }

// Version implements analyze.Analyzer.
func (a *Analyzer) Version() int { return 1 }

// Fingerprint implements analyze.Configurable: the allow rules and the
// size cap change what is found.
func (a *Analyzer) Fingerprint() string { return a.s.Fingerprint() }

// Required wants every regular file the scanner would read.
func (a *Analyzer) Required(path string, info analyze.FileInfo) bool {
	return info.Mode.IsRegular() && a.s.Wants(path, info.Size)
}

// Analyze scans one file.
func (a *Analyzer) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	b, err := f.ReadAll()
	if err != nil {
		return nil, err
	}
	hits := a.s.ScanFile(f.Path, b)
	if len(hits) == 0 {
		return nil, nil
	}
	r := &analyze.Result{}
	for _, h := range hits {
		r.Secrets = append(r.Secrets, analyze.Secret{Rule: h.Rule, Line: h.Line, Match: h.Match, Fingerprint: h.Fingerprint})
	}
	return r, nil
}
