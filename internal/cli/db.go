package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/vulndb/store"
	"github.com/drydockscan/drydock/internal/vulndb/updater"
)

// dbFlags locate and refresh the vulnerability database; the scanning and
// the db commands share them.
type dbFlags struct {
	path       string
	mirror     string
	offline    bool
	skipUpdate bool
	maxAge     time.Duration
	feeds      []string
	nvdKey     string
}

func (d *dbFlags) register(fs *pflag.FlagSet, scan bool) {
	fs.StringVar(&d.path, "db-path", "", "vulnerability database file (default <user cache dir>/drydock/db/drydock.db)")
	fs.StringVar(&d.mirror, "db-mirror", "", "fetch the feeds from this mirror (URL or local directory in the OSV bucket layout) instead of their origins")
	fs.BoolVar(&d.offline, "offline", false, "make no network request at all (use the local database; a local --db-mirror directory is still read)")
	fs.StringSliceVar(&d.feeds, "feed", nil, "feeds to update, repeatable (default: the default feeds, or those of a local --db-mirror; list: drydock db status --all)")
	fs.StringVar(&d.nvdKey, "nvd-api-key", "", "NVD API key for the nvd feed (prefer DRYDOCK_NVD_API_KEY)")
	if scan {
		fs.BoolVar(&d.skipUpdate, "skip-db-update", false, "do not update a missing or stale database before scanning")
		fs.DurationVar(&d.maxAge, "db-max-age", 24*time.Hour, "a database older than this is updated before a scan (or, with --offline/--skip-db-update, warned about)")
	}
}

// dbPath returns the database file to use.
func (d *dbFlags) dbPath() (string, error) {
	if d.path != "" {
		return d.path, nil
	}
	return pipeline.DefaultDBPath()
}

// dbSetup turns the flags of a scanning command into the pipeline's
// database settings.
func (a *app) dbSetup(d *dbFlags) (pipeline.DB, error) {
	path, err := d.dbPath()
	if err != nil {
		return pipeline.DB{}, err
	}
	o, err := d.updateOptions(a)
	if err != nil {
		return pipeline.DB{}, err
	}
	return pipeline.DB{
		Path: path, Update: o, FeedsChosen: len(d.feeds) > 0, SkipUpdate: d.skipUpdate,
		MaxAge: d.maxAge, MirrorIsLocal: isLocalDir(d.mirror), Logger: a.log,
	}, nil
}

// updateOptions turns the flags into updater options.
func (d *dbFlags) updateOptions(a *app) (updater.Options, error) {
	o := updater.Options{Mirror: d.mirror, Offline: d.offline, NVDAPIKey: d.nvdKey, Logger: a.log}
	switch {
	case len(d.feeds) > 0:
		f, err := updater.SelectFeeds(d.feeds...)
		if err != nil {
			return o, err
		}
		o.Feeds = f
	case d.mirror != "" && !isURL(d.mirror):
		// A local mirror holds some feeds: update those.
		f, err := updater.MirrorFeeds(d.mirror)
		if err != nil {
			return o, fmt.Errorf("mirror %s: %w", d.mirror, err)
		}
		if len(f) == 0 {
			return o, fmt.Errorf("mirror %s holds no feed (want <Ecosystem>/all.zip, kev/…, debian-tracker/…)", d.mirror)
		}
		o.Feeds = f
	}
	if a.progress() {
		o.Progress = updater.NewTTYProgress(a.env.Stderr)
	}
	return o, nil
}

// progress reports whether progress bars may be drawn: on a terminal,
// unless --quiet.
func (a *app) progress() bool { return a.env.IsTerminal && !a.quiet }

func (a *app) dbCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the local vulnerability database",
		Long: `drydock keeps its vulnerability database in one local file, built from the
primary public sources (OSV, the Debian security tracker, CISA KEV, …) and
updated incrementally. Scans update a missing or stale database themselves
unless --offline or --skip-db-update.`,
	}
	cmd.AddCommand(a.dbUpdateCommand(), a.dbImportCommand(), a.dbStatusCommand())
	return cmd
}

func (a *app) dbUpdateCommand() *cobra.Command {
	var d dbFlags
	var full bool
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Fetch the feeds and update the database",
		Example: `  drydock db update
  drydock db update --feed osv/Go --feed osv/PyPI
  drydock db update --db-mirror https://mirror.example.com/osv
  drydock db update --offline --db-mirror ./osv-mirror`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := d.dbPath()
			if err != nil {
				return err
			}
			o, err := d.updateOptions(a)
			if err != nil {
				return err
			}
			o.Full = full
			return a.runUpdate(cmd.Context(), path, o)
		},
	}
	d.register(cmd.Flags(), false)
	cmd.Flags().BoolVar(&full, "full", false, "rebuild every feed from its full source")
	return cmd
}

func (a *app) dbImportCommand() *cobra.Command {
	var d dbFlags
	cmd := &cobra.Command{
		Use:   "import PATH...",
		Short: "Load local data (air-gapped): an OSV mirror folder, all.zip files or folders of OSV JSON",
		Long: `Load vulnerability data from local files, without any network request:
  - a folder in the OSV bucket layout (<Ecosystem>/all.zip), optionally with
    kev/known_exploited_vulnerabilities.json, debian-tracker/data.json,
    alpine-secdb/<branch>/<repository>.json and nvd/*.json beside it;
  - an OSV all.zip file;
  - a folder of OSV JSON records (searched recursively).`,
		Example: `  drydock db import ./osv-mirror
  drydock db import ./Go/all.zip ./advisories/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := d.dbPath()
			if err != nil {
				return err
			}
			o, err := d.updateOptions(a)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return fmt.Errorf("database directory: %w", err)
			}
			for _, src := range args {
				res, err := updater.Import(cmd.Context(), path, src, o)
				a.printResult(res)
				if err != nil {
					return fmt.Errorf("import %s: %w", src, err)
				}
				if err := res.Err(); err != nil {
					return fmt.Errorf("import %s: %w", src, err)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&d.path, "db-path", "", "vulnerability database file (default <user cache dir>/drydock/db/drydock.db)")
	return cmd
}

func (a *app) dbStatusCommand() *cobra.Command {
	var d dbFlags
	var asJSON, all bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the database's location, age and feeds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all {
				return printFeeds(cmd.OutOrStdout())
			}
			path, err := d.dbPath()
			if err != nil {
				return err
			}
			m, err := store.ReadMeta(cmd.Context(), path, 5*time.Second)
			if err != nil {
				return err
			}
			if asJSON {
				return writeStatusJSON(cmd.OutOrStdout(), m, time.Now())
			}
			return writeStatus(cmd.OutOrStdout(), m, time.Now())
		},
	}
	cmd.Flags().StringVar(&d.path, "db-path", "", "vulnerability database file (default <user cache dir>/drydock/db/drydock.db)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	cmd.Flags().BoolVar(&all, "all", false, "list every feed drydock knows (name, default, origin)")
	return cmd
}

// runUpdate updates the database at path and sums the result up.
func (a *app) runUpdate(ctx context.Context, path string, o updater.Options) error {
	res, err := pipeline.UpdateDB(ctx, path, o, false, a.log)
	a.printResult(res)
	return err
}

// printResult sums an update up (the updater logs each feed itself).
func (a *app) printResult(res updater.Result) {
	records, failed := 0, 0
	for _, f := range res.Feeds {
		records += f.Records
		if f.Err != nil {
			failed++
		}
	}
	a.log.Info("vulnerability database", "path", res.Path, "feeds", len(res.Feeds), "failed", failed, "records", records)
}

func printFeeds(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FEED\tDEFAULT\tORIGIN")
	for _, f := range updater.AllFeeds() {
		def := "no"
		if f.Default {
			def = "yes"
		}
		loc := f.URL
		if f.Kind == updater.KindOSV {
			loc = f.URL + "/" + f.Ecosystem + "/"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Name, def, loc)
	}
	return tw.Flush()
}

func writeStatus(w io.Writer, m store.Meta, now time.Time) error {
	fmt.Fprintf(w, "Database: %s\n", m.Path)
	fmt.Fprintf(w, "Schema:   %d\n", m.Schema)
	fmt.Fprintf(w, "Built:    %s\n", fmtTime(m.Built))
	fmt.Fprintf(w, "Updated:  %s\n", fmtTime(m.Updated))
	fmt.Fprintf(w, "Age:      %s\n", fmtAge(updater.AgeAt(m, now)))
	if fi, err := os.Stat(m.Path); err == nil {
		fmt.Fprintf(w, "Size:     %.1f MiB\n", float64(fi.Size())/(1<<20))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FEED\tRECORDS\tWITHDRAWN\tENRICHMENTS\tUPDATED\tCHECKED\tSOURCE")
	for _, f := range m.Feeds {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\n", f.Name, f.Records, f.Withdrawn, f.Enrichments, fmtTime(f.Updated), fmtTime(f.Checked), f.URL)
	}
	return tw.Flush()
}

func writeStatusJSON(w io.Writer, m store.Meta, now time.Time) error {
	type feed struct {
		Name        string `json:"name"`
		Source      string `json:"source,omitempty"`
		Records     int    `json:"records"`
		Withdrawn   int    `json:"withdrawn"`
		Enrichments int    `json:"enrichments,omitempty"`
		Updated     string `json:"updated,omitempty"`
		Checked     string `json:"checked,omitempty"`
	}
	doc := struct {
		Path     string `json:"path"`
		Schema   int    `json:"schema"`
		Built    string `json:"built,omitempty"`
		Updated  string `json:"updated,omitempty"`
		AgeHours int64  `json:"age_hours"`
		Feeds    []feed `json:"feeds"`
	}{Path: m.Path, Schema: m.Schema, Built: rfc3339(m.Built), Updated: rfc3339(m.Updated), AgeHours: ageHours(updater.AgeAt(m, now))}
	for _, f := range m.Feeds {
		doc.Feeds = append(doc.Feeds, feed{f.Name, f.URL, f.Records, f.Withdrawn, f.Enrichments, rfc3339(f.Updated), rfc3339(f.Checked)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtAge(d time.Duration) string {
	if d == time.Duration(math.MaxInt64) {
		return "no feed"
	}
	if d < time.Hour {
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%dh (%.1f days)", int64(d.Hours()), d.Hours()/24)
}

func ageHours(d time.Duration) int64 {
	if d == time.Duration(math.MaxInt64) {
		return -1
	}
	return int64(d.Hours())
}

func isURL(s string) bool { return strings.Contains(s, "://") }

func isLocalDir(s string) bool {
	if s == "" || isURL(s) {
		return false
	}
	st, err := os.Stat(s)
	return err == nil && st.IsDir()
}
