// Package licensetext is the analyzer that classifies licence texts where
// a package declares no licence in a form drydock reads: Debian copyright
// files that are neither machine-readable nor point at
// /usr/share/common-licenses. It runs with the licence scanner only.
package licensetext

import (
	"context"
	"path"
	"strings"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/dpkg"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/license"
)

// Analyzer classifies licence texts with a license.Classifier.
type Analyzer struct {
	c *license.Classifier
}

// New returns the analyzer.
func New(c *license.Classifier) *Analyzer { return &Analyzer{c: c} }

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "licensetext" }

// Version implements analyze.Analyzer.
func (*Analyzer) Version() int { return 1 }

// Required wants /usr/share/doc/<package>/copyright.
func (*Analyzer) Required(p string, info analyze.FileInfo) bool {
	return strings.HasPrefix(p, "usr/share/doc/") && strings.HasSuffix(p, "/copyright") &&
		strings.Count(p, "/") == 4 && info.Size <= license.MaxTextSize
}

// Analyze classifies a copyright file the dpkg analyzer finds no licence
// in.
func (a *Analyzer) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	b, err := f.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(dpkg.ParseCopyright(b)) > 0 {
		return nil, nil
	}
	ms, err := a.c.Classify(b)
	if err != nil || len(ms) == 0 {
		return nil, err
	}
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return &analyze.Result{License: &analyze.License{Type: inventory.TypeDeb, Package: path.Base(path.Dir(f.Path)), Licenses: ids}}, nil
}
