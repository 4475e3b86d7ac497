package updater

import (
	"fmt"
	"net/url"
	"strings"
)

// Kind is how a feed is fetched and parsed.
type Kind string

// Feed kinds.
const (
	// KindOSV is one ecosystem folder of the OSV bucket layout:
	// <base>/<Ecosystem>/all.zip, modified_id.csv and <ID>.json.
	KindOSV Kind = "osv"
	// KindDebianTracker is the Debian security tracker's JSON export.
	KindDebianTracker Kind = "debian-tracker"
	// KindAlpineSecDB is Alpine's secdb: <base>/<branch>/<repository>.json
	// for every release branch.
	KindAlpineSecDB Kind = "alpine-secdb"
	// KindSecDB is one secdb-shaped security.json (Wolfi, Chainguard).
	KindSecDB Kind = "secdb"
	// KindNVD is the NVD CVE API 2.0 (CVSS enrichment).
	KindNVD Kind = "nvd"
	// KindKEV is CISA's Known Exploited Vulnerabilities catalogue.
	KindKEV Kind = "kev"
)

// OSVBase is the public OSV bucket.
const OSVBase = "https://osv-vulnerabilities.storage.googleapis.com"

// Feed is one source of vulnerability data.
type Feed struct {
	// Name identifies the feed in the database and on the command line
	// ("osv/PyPI", "debian-tracker", "kev").
	Name string
	Kind Kind
	// URL is the feed's default location: for KindOSV the bucket base
	// (the ecosystem folder is appended), for KindAlpineSecDB the secdb
	// base (branches are below it), else the file or API endpoint.
	URL string
	// Ecosystem is the OSV ecosystem of a KindOSV feed (the bucket
	// folder) or of a KindSecDB feed's packages.
	Ecosystem string
	// MirrorPath is where the feed lives under a mirror base (see
	// Options.Mirror). OSV feeds use the bucket layout, <Ecosystem>/.
	MirrorPath string
	// Default marks the feeds updated when none are named.
	Default bool
}

func osvFeed(eco string, def bool) Feed {
	return Feed{Name: "osv/" + eco, Kind: KindOSV, URL: OSVBase, Ecosystem: eco, MirrorPath: eco, Default: def}
}

// AllFeeds returns every feed drydock knows, in a fixed order. This is the
// one list of feeds: add a feed here.
//
// Enabled by default: the OSV ecosystems, the Debian security tracker and
// KEV. Not by default: OSV's Debian folder (it is converted from the
// tracker, which drydock reads directly), Alpine's secdb and the
// Wolfi/Chainguard secdb files (OSV carries the same data, from the same
// sources), and NVD (it needs an API key to be usable and is rate-limited).
func AllFeeds() []Feed {
	return []Feed{
		osvFeed("Go", true),
		osvFeed("npm", true),
		osvFeed("PyPI", true),
		osvFeed("Maven", true),
		osvFeed("crates.io", true),
		osvFeed("RubyGems", true),
		osvFeed("Packagist", true),
		osvFeed("NuGet", true),
		osvFeed("Ubuntu", true),
		osvFeed("Alpine", true),
		osvFeed("Wolfi", true),
		osvFeed("Chainguard", true),
		osvFeed("Red Hat", true),
		osvFeed("AlmaLinux", true),
		osvFeed("Rocky Linux", true),
		osvFeed("SUSE", true),
		osvFeed("openSUSE", true),
		osvFeed("Debian", false),
		{Name: "debian-tracker", Kind: KindDebianTracker, URL: "https://security-tracker.debian.org/tracker/data/json", MirrorPath: "debian-tracker/data.json", Default: true},
		{Name: "kev", Kind: KindKEV, URL: "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json", MirrorPath: "kev/known_exploited_vulnerabilities.json", Default: true},
		{Name: "alpine-secdb", Kind: KindAlpineSecDB, URL: "https://secdb.alpinelinux.org", MirrorPath: "alpine-secdb"},
		{Name: "wolfi-secdb", Kind: KindSecDB, URL: "https://packages.wolfi.dev/os/security.json", Ecosystem: "Wolfi", MirrorPath: "wolfi-secdb/security.json"},
		{Name: "chainguard-secdb", Kind: KindSecDB, URL: "https://packages.cgr.dev/chainguard/security.json", Ecosystem: "Chainguard", MirrorPath: "chainguard-secdb/security.json"},
		{Name: "nvd", Kind: KindNVD, URL: "https://services.nvd.nist.gov/rest/json/cves/2.0", MirrorPath: "nvd"},
	}
}

// DefaultFeeds returns the feeds enabled by default.
func DefaultFeeds() []Feed {
	var out []Feed
	for _, f := range AllFeeds() {
		if f.Default {
			out = append(out, f)
		}
	}
	return out
}

// SelectFeeds returns the named feeds, in AllFeeds order. A name may also
// be "osv/<Ecosystem>" for any OSV ecosystem not in the list.
func SelectFeeds(names ...string) ([]Feed, error) {
	all := AllFeeds()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []Feed
	for _, f := range all {
		if want[f.Name] {
			out = append(out, f)
			delete(want, f.Name)
		}
	}
	for _, n := range names {
		if !want[n] {
			continue
		}
		eco, ok := strings.CutPrefix(n, "osv/")
		if !ok || eco == "" || strings.ContainsAny(eco, "/\\") || eco == "." || eco == ".." {
			return nil, fmt.Errorf("unknown feed %q", n)
		}
		out = append(out, osvFeed(eco, false))
		delete(want, n)
	}
	return out, nil
}

// OSVFeeds returns KindOSV feeds for the given bucket folders (as listed by
// a bucket's or mirror's ecosystems.txt).
func OSVFeeds(ecosystems ...string) []Feed {
	out := make([]Feed, 0, len(ecosystems))
	for _, e := range ecosystems {
		out = append(out, osvFeed(e, false))
	}
	return out
}

// location returns where to fetch the feed: a URL or a local path.
func (f Feed) location(mirror string) string {
	if mirror == "" {
		if f.Kind == KindOSV {
			return joinLoc(f.URL, f.Ecosystem)
		}
		return f.URL
	}
	return joinLoc(mirror, f.MirrorPath)
}

// joinLoc appends a path element to a URL (escaped) or a directory.
func joinLoc(base, elem string) string {
	base = strings.TrimSuffix(base, "/")
	if isURL(base) {
		parts := strings.Split(elem, "/")
		for i, p := range parts {
			parts[i] = url.PathEscape(p)
		}
		return base + "/" + strings.Join(parts, "/")
	}
	return base + "/" + elem
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}
