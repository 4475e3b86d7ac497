// Package vulndbtest gives tests a vulnerability database built from the
// shared data in ../shared/vulndata.
package vulndbtest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/vulndb/updater"
)

// Dir returns ../shared/vulndata, skipping the test when it is absent.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(filepath.Dir(analyzetest.Corpus(tb)), "vulndata")
	if _, err := os.Stat(filepath.Join(dir, "osv-mirror")); err != nil {
		tb.Skipf("vulnerability data: %v", err)
	}
	return dir
}

// Import builds a database at path from the shared data: the OSV mirror
// (Go, PyPI, crates.io, Debian:12, Debian:13), then the Debian tracker
// export and the KEV catalogue, laid out at their mirror paths under tmp.
func Import(ctx context.Context, path, vulndata, tmp string) error {
	quiet := updater.Options{Logger: slog.New(slog.DiscardHandler)}
	run := func(what, dir string) error {
		res, err := updater.Import(ctx, path, dir, quiet)
		if err == nil {
			err = res.Err()
		}
		if err != nil {
			return fmt.Errorf("import %s: %w", what, err)
		}
		return nil
	}
	if err := run("OSV mirror", filepath.Join(vulndata, "osv-mirror")); err != nil {
		return err
	}
	extra := filepath.Join(tmp, "mirror")
	for src, dst := range map[string]string{
		"debian-tracker/changelog-derived-tracker.json": "debian-tracker/data.json",
		"kev/known_exploited_vulnerabilities.json":      "kev/known_exploited_vulnerabilities.json",
	} {
		data, err := os.ReadFile(filepath.Join(vulndata, src))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(extra, dst)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(extra, dst), data, 0o644); err != nil {
			return err
		}
	}
	return run("tracker and KEV", extra)
}
