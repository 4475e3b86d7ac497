// Package store is drydock's local vulnerability database: one embedded
// bbolt file holding every feed's records, the prefilter index the matcher
// reads, CVE severity enrichment and the KEV catalogue.
//
// # Reading (the matcher)
//
//	db, err := store.Open(ctx, path, store.Options{ReadOnly: true})
//	defer db.Close()
//	cands, err := db.Candidates("Debian:12", "openssl")   // prefilter
//	rec, err := db.Record(cands[0].ID)                     // full record, for findings only
//	sevs, err := db.Severities("CVE-2024-1234")            // NVD / CVE 5 ratings
//	kev, ok, err := db.KEV("CVE-2024-1234")
//	meta, err := db.Meta()                                 // schema, build time, feeds
//
// Candidates takes the package's ecosystem and name as the inventory has
// them and normalises both with vulndb.Normalize, the function the indexer
// used. Each Candidate carries the record id, aliases, withdrawn flag and
// the one affected entry naming the package (ranges, versions, distribution
// status and severity), decoded from a compact binary form; full records are
// kept in a binary form of their own, S2-compressed, and decoded only by
// Record and FeedRecord. DB.Lookup runs many Candidates and FeedRecord
// calls on one snapshot; DB.Lookups gives a read-only handle's snapshot to
// several goroutines at once, one Lookup each.
//
// # Layout
//
//	meta/                 schema, built, updated
//	feeds/<feed>/meta     FeedMeta (JSON): URL, scope, times, counts, fingerprints
//	feeds/<feed>/rec/     record id → record (binary, S2-compressed)
//	feeds/<feed>/idx/     ecosystem \0 name \0 record id \0 entry# → Candidate (binary)
//	feeds/<feed>/mod/     record id → source modification string (updater state)
//	feeds/<feed>/sev/     CVE → []Severity (JSON)
//	feeds/<feed>/kev/     CVE → KEV entry (JSON)
//
// Records are namespaced by feed, so the same record published in two OSV
// ecosystem archives (a Debian record in Debian:12 and Debian:13) is kept by
// both feeds and each indexes only its own ecosystem's entries (its Scope).
// The feed cache maps each normalised ecosystem to the feeds indexing it,
// so a lookup visits only those.
//
// # Writing (the updater)
//
// DB.UpdateFeed runs a function with a FeedWriter in one bbolt transaction:
// Clear, Put, Delete, SetModified, PutSeverities, PutKEV, SetFingerprint.
// The transaction commits all of it or nothing: a failed or cancelled
// update leaves the feed's previous content. Writes happen in place, in the
// same file: bbolt's copy-on-write pages and meta-page switch make each
// commit atomic and crash-safe without copying the whole file, and its file
// lock lets a scan wait for an update to finish (Options.Timeout) instead of
// reading a file being replaced. The lock is held for as long as the
// updater has the file open, downloads included: a reader that must not
// wait long sets a short Timeout and handles ErrLocked. A new file (first build, or a rebuild after
// a schema change) is built elsewhere and renamed into place by the updater.
//
// # Schema
//
// The file records SchemaVersion. Open refuses any other version with a
// *SchemaError (ErrSchema) whose message tells the user to run
// `drydock db update`, which rebuilds the file.
package store
