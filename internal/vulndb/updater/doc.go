// Package updater builds and updates drydock's vulnerability database from
// the primary sources — the OSV bucket's per-ecosystem archives, the Debian
// security tracker, Alpine's secdb, NVD and CISA's KEV catalogue — or from a
// mirror of them, and imports offline copies.
//
// # API used by the CLI
//
//	// drydock db update [--feed …] [--db-mirror URL], and the automatic
//	// update before drydock image:
//	feeds, err := updater.SelectFeeds("osv/PyPI", "kev")  // or updater.DefaultFeeds()
//	res, err := updater.Update(ctx, dbPath, updater.Options{
//		Feeds:    feeds,
//		Mirror:   mirrorURL,                        // "" for the primary sources
//		Progress: updater.NewTTYProgress(os.Stderr), // only if updater.IsTerminal(os.Stderr)
//	})
//	for _, f := range res.Feeds { … f.Feed, f.Status, f.Mode, f.Records, f.Err … }
//	err = res.Err() // every failed feed, each naming its feed and URL
//
//	// drydock db import PATH:
//	res, err := updater.Import(ctx, dbPath, path, updater.Options{})
//
//	// drydock db status:
//	meta, err := store.ReadMeta(ctx, dbPath, 0)
//	age := updater.Age(meta)
//
//	// before a scan: update when missing or stale
//	fr, err := updater.CheckFreshness(ctx, dbPath, feeds, 24*time.Hour, time.Now())
//	if fr.NeedsUpdate() { … Update … }
//
// Update returns an error only when nothing could be done (the database is
// locked by another process, or a first build where every feed failed);
// per-feed failures are in the Result and leave that feed's previous
// content in place. Options.Offline guarantees that no network request is
// made (local mirror directories and Import still work).
//
// # Feeds
//
// AllFeeds is the one explicit list of feeds, each with its kind, default
// URL and whether it is enabled by default (the OSV ecosystems, the Debian
// tracker and KEV; NVD is opt-in as it needs an API key and is
// rate-limited). OSV feeds are updated incrementally: modified_id.csv is
// fetched with a conditional GET, compared as strings with the id →
// modified map stored by the last run, and only new or changed <ID>.json
// records are fetched, ids gone from the index deleted; the first run, a
// large change set (Options.FullThreshold) or Options.Full read all.zip.
// The Debian tracker, secdb and KEV files are fetched with conditional GETs
// (ETag, Last-Modified) and replace their feed when changed; NVD is read
// page by page, then incrementally by last-modification date.
//
// # Atomicity
//
// Downloads go to temporary files and are checked (length, zip structure
// and checksums, JSON) before and while the feed's content is replaced in
// one database transaction: an interrupted download, a corrupt archive or
// invalid JSON fails that feed alone and leaves its previous content. A
// missing database, or one of another schema version, is built into a new
// file renamed into place at the end.
package updater
