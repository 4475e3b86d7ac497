package match

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/version"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// The expectations below were written by reading the records themselves
// (unzip -p ../shared/vulndata/osv-mirror/<Ecosystem>/all.zip <ID>.json,
// and debian-tracker/changelog-derived-tracker.json), comparing Debian
// versions with dpkg --compare-versions. The corpus images are described
// in ../shared/corpus/README.md and their TRUTH.json.

// synthetic is a Debian 12 inventory of packages the corpus lacks, for
// boundaries, withdrawn records and KEV, matched against the same real
// database.
const synthetic = "synthetic"

func syntheticInventory() *inventory.Inventory {
	deb := func(name, ver, source, path string) inventory.Package {
		return inventory.Package{Type: inventory.TypeDeb, Name: name, Version: ver, SourceName: source, SourceVersion: ver, Path: path}
	}
	lang := func(typ, name, ver string) inventory.Package {
		return inventory.Package{Type: typ, Name: name, Version: ver, Path: "/synthetic/" + typ + "/" + name + "@" + ver}
	}
	return &inventory.Inventory{
		OS: &inventory.OS{ID: "debian", VersionID: "12", Codename: "bookworm"},
		Packages: []inventory.Package{
			deb("libc6", "2.36-9+deb12u2", "glibc", "/old/var/lib/dpkg/status"),
			deb("libc6", "2.36-9+deb12u3", "glibc", "/new/var/lib/dpkg/status"),
			lang(inventory.TypeGo, "go.etcd.io/bbolt", "v1.5.0"),
			lang(inventory.TypeGo, "stdlib", "1.21.1"),
			lang(inventory.TypeGo, "stdlib", "1.21.4"),
			lang(inventory.TypeGo, "golang.org/x/crypto", "v0.0.0-20201216223049-8b5274cf687f"),
			lang(inventory.TypeCargo, "ring", "0.17.8"),
			lang(inventory.TypeCargo, "ring", "0.17.12"),
			lang(inventory.TypeCargo, "ring", "0.16.20"),
			lang(inventory.TypePyPI, "aiohttp", "3.9.0"),
			lang(inventory.TypePyPI, "py", "1.11.0"),
			lang(inventory.TypePyPI, "certifi", "2017.11.5"),
			lang(inventory.TypePyPI, "certifi", "2017.7.27.1"),
			lang(inventory.TypePyPI, "PyYAML", "5.1"),
			lang(inventory.TypePyPI, "PyYAML", "5.3.1"),
		},
	}
}

// expectation is one hand-checked fact about the findings of a package
// at a version in an image.
type expectation struct {
	image    string // corpus image, or synthetic
	ownedToo bool   // run with Options.IncludeOSOwned
	pkg, ver string // the package as the inventory has it (must be there)
	id       string // the finding's id; for absent ones, any id or alias
	aliases  string // exact, space-separated
	fixed    string // exact fixed versions, space-separated; "" = none
	status   string
	severity finding.Severity // checked when set
	source   string           // SeveritySource, checked with severity
	records  string           // exact, space-separated, checked when set
	kev      string           // KEV date added, checked when set
	absent   bool             // the package must not have this vulnerability
}

const (
	app  = "debian12-app"
	slim = "debian13-slim"

	dpkgBoth = "debian-tracker:DEBIAN-%s osv/Debian:12:DEBIAN-%s"
)

func debRecords(cve string) string { return strings.ReplaceAll(dpkgBoth, "%s", cve) }

var expectations = []expectation{
	// Debian 12 (bookworm main, 12.15): source package matching, both
	// Debian feeds merged into one finding per binary package.
	{image: app, pkg: "libssl3", ver: "3.0.20-1~deb12u2", id: "CVE-2026-35189", aliases: "DEBIAN-CVE-2026-35189", fixed: "3.0.22-1~deb12u2", status: "fixed",
		records: debRecords("CVE-2026-35189"), severity: finding.Unknown},
	{image: app, pkg: "openssl", ver: "3.0.20-1~deb12u2", id: "CVE-2026-35189", aliases: "DEBIAN-CVE-2026-35189", fixed: "3.0.22-1~deb12u2", status: "fixed"},
	{image: app, pkg: "libssl3", ver: "3.0.20-1~deb12u2", id: "CVE-2026-63074", aliases: "DEBIAN-CVE-2026-63074", fixed: "3.0.22-1~deb12u1", status: "fixed"},
	{image: app, pkg: "libssl3", ver: "3.0.20-1~deb12u2", id: "CVE-2024-4741", absent: true}, // fixed 3.0.14-1~deb12u1
	{image: app, pkg: "libexpat1", ver: "2.5.0-1+deb12u2", id: "CVE-2024-28757", aliases: "DEBIAN-CVE-2024-28757", fixed: "2.5.0-1+deb12u4", status: "fixed",
		records: debRecords("CVE-2024-28757")},
	{image: app, pkg: "libexpat1", ver: "2.5.0-1+deb12u2", id: "CVE-2024-50602", absent: true}, // fixed exactly in 2.5.0-1+deb12u2
	{image: app, pkg: "libexpat1", ver: "2.5.0-1+deb12u2", id: "CVE-2023-52425", absent: true}, // fixed exactly in 2.5.0-1+deb12u2
	{image: app, pkg: "curl", ver: "7.88.1-10+deb12u15", id: "CVE-2026-3784", absent: true},    // fixed exactly in deb12u15
	{image: app, pkg: "libcurl4", ver: "7.88.1-10+deb12u15", id: "CVE-2026-3784", absent: true},
	{image: app, pkg: "dpkg", ver: "1.21.23", id: "CVE-2025-6297", absent: true}, // fixed exactly in 1.21.23
	{image: app, pkg: "apt", ver: "2.6.1", id: "CVE-2026-109518", aliases: "DEBIAN-CVE-2026-109518", fixed: "2.6.2", status: "fixed"},
	{image: app, pkg: "libapt-pkg6.0", ver: "2.6.1", id: "CVE-2026-109518", aliases: "DEBIAN-CVE-2026-109518", fixed: "2.6.2", status: "fixed"},
	{image: app, pkg: "perl-base", ver: "5.36.0-7+deb12u3", id: "CVE-2026-42497", aliases: "DEBIAN-CVE-2026-42497", fixed: "5.36.0-7+deb12u4", status: "fixed"},
	{image: app, pkg: "perl-base", ver: "5.36.0-7+deb12u3", id: "CVE-2023-31484", absent: true}, // fixed exactly in deb12u3
	{image: app, pkg: "libpython3.11-stdlib", ver: "3.11.2-6+deb12u8", id: "CVE-2026-3276", aliases: "DEBIAN-CVE-2026-3276", fixed: "3.11.2-6+deb12u9", status: "fixed"},
	{image: app, pkg: "python3.11", ver: "3.11.2-6+deb12u8", id: "CVE-2025-4516", absent: true}, // fixed 3.11.2-6+deb12u7
	{image: app, pkg: "libssh2-1", ver: "1.10.0-3+b1", id: "CVE-2025-15661", aliases: "DEBIAN-CVE-2025-15661", fixed: "1.10.0-3+deb12u1", status: "fixed"},
	{image: app, pkg: "libbrotli1", ver: "1.0.9-2+b6", id: "CVE-2026-111497", aliases: "DEBIAN-CVE-2026-111497", fixed: "1.0.9-2+deb12u1", status: "fixed"},
	{image: app, pkg: "libpcre2-8-0", ver: "10.42-1", id: "CVE-2026-103111", aliases: "DEBIAN-CVE-2026-103111", fixed: "10.42-1+deb12u2", status: "fixed"},
	{image: app, pkg: "libsasl2-2", ver: "2.1.28+dfsg-10", id: "CVE-2026-107161", aliases: "DEBIAN-CVE-2026-107161", fixed: "2.1.28+dfsg-10+deb12u1", status: "fixed"},
	{image: app, pkg: "libc6", ver: "2.36-9+deb12u14", id: "CVE-2023-4911", absent: true},  // fixed 2.36-9+deb12u3
	{image: app, pkg: "libc6", ver: "2.36-9+deb12u14", id: "CVE-2025-15281", absent: true}, // fixed exactly in deb12u14
	// python3-urllib3 (source python-urllib3) has the fix backported.
	{image: app, pkg: "python3-urllib3", ver: "1.26.12-1+deb12u4", id: "CVE-2023-45803", absent: true}, // fixed 1.26.12-1+deb12u1

	// Debian 13 (trixie, fully updated): the Debian:13 entries apply,
	// every one fixed at or below the installed version.
	{image: slim, pkg: "libssl3t64", ver: "3.5.7-1~deb13u3", id: "CVE-2026-35189", absent: true}, // trixie fixed exactly in 3.5.7-1~deb13u3
	{image: slim, pkg: "apt", ver: "3.0.4", id: "CVE-2026-109518", absent: true},                 // trixie fixed exactly in 3.0.4
	{image: slim, pkg: "dpkg", ver: "1.22.22", id: "CVE-2026-2219", absent: true},                // fixed exactly in 1.22.22
	{image: slim, pkg: "libc6", ver: "2.41-12+deb13u4", id: "CVE-2025-15281", absent: true},      // trixie fixed 2.41-12+deb13u2

	// Go modules of /app/bin/orders-api.
	{image: app, pkg: "github.com/gin-gonic/gin", ver: "v1.7.0", id: "CVE-2020-28483", aliases: "GHSA-h395-qcrw-5vmq GO-2021-0052", fixed: "v1.7.7", status: "fixed",
		records: "osv/Go:GO-2021-0052"},
	// Introduced at a pseudo-version below v1.7.0.
	{image: app, pkg: "github.com/gin-gonic/gin", ver: "v1.7.0", id: "CVE-2023-29401", aliases: "GHSA-2c4m-59x9-fr2g GO-2023-1737", fixed: "v1.9.1", status: "fixed"},
	{image: app, pkg: "github.com/gin-gonic/gin", ver: "v1.7.0", id: "CVE-2020-36567", absent: true}, // fixed 1.6.0
	// Pseudo-versions against pseudo-version fixes.
	{image: app, pkg: "golang.org/x/crypto", ver: "v0.0.0-20200622213623-75b288015ac9", id: "CVE-2020-29652", aliases: "GHSA-3vm4-22fp-5rfm GO-2021-0227",
		fixed: "v0.0.0-20201216223049-8b5274cf687f", status: "fixed"},
	{image: app, pkg: "golang.org/x/crypto", ver: "v0.0.0-20200622213623-75b288015ac9", id: "CVE-2023-48795", aliases: "GHSA-45x7-px36-x8w8 GO-2023-2402", fixed: "v0.17.0", status: "fixed"},
	// No alias, no fix.
	{image: app, pkg: "golang.org/x/crypto", ver: "v0.0.0-20200622213623-75b288015ac9", id: "GO-2026-5932", status: "unfixed", records: "osv/Go:GO-2026-5932"},
	{image: app, pkg: "golang.org/x/net", ver: "v0.0.0-20210226172049-e18ecbb05110", id: "CVE-2021-33194", aliases: "GHSA-83g2-8m93-v3w7 GO-2021-0238",
		fixed: "v0.0.0-20210520170846-37e1c6afe023", status: "fixed"},
	// One record, two packages: x/net's line here, stdlib's below.
	{image: app, pkg: "golang.org/x/net", ver: "v0.0.0-20210226172049-e18ecbb05110", id: "CVE-2023-39325", aliases: "GHSA-4374-p667-p6c8 GO-2023-2102", fixed: "v0.17.0", status: "fixed"},
	{image: app, pkg: "golang.org/x/sys", ver: "v0.0.0-20201119102817-f84b799fce68", id: "CVE-2022-29526", aliases: "GHSA-p782-xgp4-8hr8 GO-2022-0493",
		fixed: "v0.0.0-20220412211240-33da011f77ad", status: "fixed"},
	{image: app, pkg: "golang.org/x/text", ver: "v0.3.5", id: "CVE-2021-38561", aliases: "GHSA-ppp9-7jff-5vj2 GO-2021-0113", fixed: "v0.3.7", status: "fixed"},
	{image: app, pkg: "golang.org/x/text", ver: "v0.3.5", id: "CVE-2022-32149", aliases: "GHSA-69ch-w2m2-3vjp GO-2022-1059", fixed: "v0.3.8", status: "fixed"},
	{image: app, pkg: "golang.org/x/text", ver: "v0.3.5", id: "CVE-2020-14040", absent: true}, // fixed 0.3.3
	{image: app, pkg: "gopkg.in/yaml.v2", ver: "v2.2.8", id: "CVE-2019-11254", absent: true},  // fixed exactly in 2.2.8

	// The standard library of go1.21.0.
	{image: app, pkg: "stdlib", ver: "1.21.0", id: "CVE-2023-39318", aliases: "GO-2023-2041", fixed: "1.21.1", status: "fixed"},
	{image: app, pkg: "stdlib", ver: "1.21.0", id: "CVE-2023-39325", aliases: "GHSA-4374-p667-p6c8 GO-2023-2102", fixed: "1.21.3", status: "fixed"},
	// Two stdlib entries in one record: one finding, the first entry's fix.
	{image: app, pkg: "stdlib", ver: "1.21.0", id: "CVE-2023-45283", aliases: "GO-2023-2185", fixed: "1.21.4", status: "fixed", records: "osv/Go:GO-2023-2185"},
	{image: app, pkg: "stdlib", ver: "1.21.0", id: "CVE-2024-24783", aliases: "GO-2024-2598", fixed: "1.21.8", status: "fixed"},
	{image: app, pkg: "stdlib", ver: "1.21.0", id: "CVE-2023-29409", absent: true}, // fixed 1.21.0-rc.4
	{image: app, pkg: "stdlib", ver: "1.21.0", id: "CVE-2022-29526", absent: true}, // fixed 1.17.10 / 1.18.2

	// PyPI packages of the image are all owned by Debian packages: none
	// is matched by default ...
	{image: app, pkg: "requests", ver: "2.28.1", id: "CVE-2023-32681", absent: true},
	{image: app, pkg: "urllib3", ver: "1.26.12", id: "CVE-2023-45803", absent: true},
	{image: app, pkg: "certifi", ver: "2022.9.24", id: "CVE-2022-23491", absent: true},
	// ... and are, with IncludeOSOwned.
	{image: app, ownedToo: true, pkg: "requests", ver: "2.28.1", id: "CVE-2023-32681", aliases: "GHSA-j8r2-6x86-q33q PYSEC-2023-74", fixed: "2.31.0", status: "fixed",
		records: "osv/PyPI:PYSEC-2023-74", severity: finding.Unknown},
	// Events out of order: introduced 2.0.0, fixed 2.0.6, introduced 0, fixed 1.26.17.
	{image: app, ownedToo: true, pkg: "urllib3", ver: "1.26.12", id: "CVE-2023-43804", aliases: "GHSA-v845-jxx5-vc9f PYSEC-2023-192", fixed: "1.26.17", status: "fixed",
		severity: finding.High, source: "pysec"}, // CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N = 8.1
	{image: app, ownedToo: true, pkg: "urllib3", ver: "1.26.12", id: "CVE-2023-45803", aliases: "GHSA-g4mx-q9vg-27p4 PYSEC-2023-212", fixed: "1.26.18", status: "fixed",
		severity: finding.Medium, source: "pysec"}, // CVSS:3.1/AV:A/AC:H/PR:H/UI:N/S:U/C:H/I:N/A:N = 4.4
	{image: app, ownedToo: true, pkg: "urllib3", ver: "1.26.12", id: "CVE-2021-28363", absent: true}, // 1.26.0 to 1.26.4
	{image: app, ownedToo: true, pkg: "certifi", ver: "2022.9.24", id: "CVE-2022-23491", aliases: "GHSA-43fp-rhv2-5gv8 PYSEC-2022-42986", fixed: "2022.12.7", status: "fixed"},
	{image: app, ownedToo: true, pkg: "certifi", ver: "2022.9.24", id: "CVE-2023-37920", aliases: "GHSA-xqr8-7jwr-rhp7 PYSEC-2023-135", fixed: "2023.7.22", status: "fixed"},
	// The GIT range (commit hashes) is passed over; the ECOSYSTEM one decides.
	{image: app, ownedToo: true, pkg: "idna", ver: "3.3", id: "CVE-2024-3651", aliases: "PYSEC-2024-60", fixed: "3.7", status: "fixed",
		severity: finding.High, source: "pysec"}, // CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H = 7.5
	{image: app, ownedToo: true, pkg: "Jinja2", ver: "3.1.2", id: "CVE-2019-10906", absent: true}, // fixed 2.10.1

	// Synthetic packages against the real database.
	// KEV: CVE-2023-4911 (glibc "Looney Tunables"), fixed 2.36-9+deb12u3.
	{image: synthetic, pkg: "libc6", ver: "2.36-9+deb12u2", id: "CVE-2023-4911", aliases: "DEBIAN-CVE-2023-4911", fixed: "2.36-9+deb12u3", status: "fixed", kev: "2023-11-21"},
	{image: synthetic, pkg: "libc6", ver: "2.36-9+deb12u3", id: "CVE-2023-4911", absent: true},
	// Withdrawn records never match: GO-2026-4923 (all bbolt versions),
	// RUSTSEC-2025-0007 (all ring versions), PYSEC-2022-43059 (aiohttp).
	{image: synthetic, pkg: "go.etcd.io/bbolt", ver: "v1.5.0", id: "CVE-2026-33817", absent: true},
	{image: synthetic, pkg: "go.etcd.io/bbolt", ver: "v1.5.0", id: "GO-2026-4923", absent: true},
	{image: synthetic, pkg: "ring", ver: "0.17.8", id: "RUSTSEC-2025-0007", absent: true},
	{image: synthetic, pkg: "aiohttp", ver: "3.9.0", id: "CVE-2022-33124", absent: true},
	// crates.io: one RustSec record aliasing a CVE and two GHSAs.
	{image: synthetic, pkg: "ring", ver: "0.17.8", id: "CVE-2025-4432", aliases: "GHSA-4p46-pwfr-66x6 GHSA-c86p-w88r-qvqr RUSTSEC-2025-0009", fixed: "0.17.12", status: "fixed",
		records: "osv/crates.io:RUSTSEC-2025-0009"},
	{image: synthetic, pkg: "ring", ver: "0.17.8", id: "RUSTSEC-2025-0010", absent: true}, // fixed 0.17.0
	{image: synthetic, pkg: "ring", ver: "0.17.12", id: "CVE-2025-4432", absent: true},    // fixed exactly in 0.17.12
	{image: synthetic, pkg: "ring", ver: "0.16.20", id: "RUSTSEC-2025-0010", fixed: "0.17.0", status: "fixed"},
	{image: synthetic, pkg: "ring", ver: "0.16.20", id: "CVE-2025-4432", aliases: "GHSA-4p46-pwfr-66x6 GHSA-c86p-w88r-qvqr RUSTSEC-2025-0009", fixed: "0.17.12", status: "fixed"},
	// Exactly at the fixed version / exactly at introduced.
	{image: synthetic, pkg: "stdlib", ver: "1.21.1", id: "CVE-2023-39318", absent: true},
	{image: synthetic, pkg: "stdlib", ver: "1.21.4", id: "CVE-2023-45283", aliases: "GO-2023-2185", fixed: "1.21.5", status: "fixed"}, // 2nd entry: introduced 1.21.4
	{image: synthetic, pkg: "golang.org/x/crypto", ver: "v0.0.0-20201216223049-8b5274cf687f", id: "CVE-2020-29652", absent: true},
	{image: synthetic, pkg: "golang.org/x/crypto", ver: "v0.0.0-20201216223049-8b5274cf687f", id: "CVE-2022-27191", aliases: "GHSA-8c26-wmh5-6g9v GO-2021-0356",
		fixed: "v0.0.0-20220314234659-1baeb1ce4c0b", status: "fixed"},
	{image: synthetic, pkg: "certifi", ver: "2017.11.5", id: "CVE-2022-23491", aliases: "GHSA-43fp-rhv2-5gv8 PYSEC-2022-42986", fixed: "2022.12.7", status: "fixed"},
	{image: synthetic, pkg: "certifi", ver: "2017.7.27.1", id: "CVE-2022-23491", absent: true}, // below introduced 2017.11.5
	{image: synthetic, pkg: "certifi", ver: "2017.7.27.1", id: "CVE-2023-37920", aliases: "GHSA-xqr8-7jwr-rhp7 PYSEC-2023-135", fixed: "2023.7.22", status: "fixed"},
	{image: synthetic, pkg: "PyYAML", ver: "5.1", id: "CVE-2020-1747", aliases: "GHSA-6757-jp84-gxfx PYSEC-2020-96", fixed: "5.3.1", status: "fixed"},
	{image: synthetic, pkg: "PyYAML", ver: "5.3.1", id: "CVE-2020-1747", absent: true},
	// last_affected 1.11.0 (the one such record): affected, no fix.
	{image: synthetic, pkg: "py", ver: "1.11.0", id: "CVE-2022-42969", aliases: "GHSA-w596-4wvx-j9j6 PYSEC-2022-42969", status: "unfixed"},
}

// expectedCounts are findings per package, from the candidates each
// package's records give, evaluated independently (dpkg --compare-versions
// for Debian, an OSV range evaluation for Go).
var expectedCounts = []struct {
	image, pkg, ver string
	n               int
}{
	{app, "libssl3", "3.0.20-1~deb12u2", 12},
	{app, "libexpat1", "2.5.0-1+deb12u2", 27},
	{app, "perl-base", "5.36.0-7+deb12u3", 13},
	{app, "python3.11", "3.11.2-6+deb12u8", 14},
	{app, "libssh2-1", "1.10.0-3+b1", 6},
	{app, "curl", "7.88.1-10+deb12u15", 0},
	{app, "libc6", "2.36-9+deb12u14", 0},
	{app, "github.com/gin-gonic/gin", "v1.7.0", 2},
	{app, "golang.org/x/crypto", "v0.0.0-20200622213623-75b288015ac9", 24},
	{app, "golang.org/x/net", "v0.0.0-20210226172049-e18ecbb05110", 22},
	{app, "golang.org/x/sys", "v0.0.0-20201119102817-f84b799fce68", 2},
	{app, "golang.org/x/text", "v0.3.5", 3},
	{app, "gopkg.in/yaml.v2", "v2.2.8", 0},
	{app, "stdlib", "1.21.0", 75}, // 76 matching entries, GO-2023-2185 twice
	{synthetic, "go.etcd.io/bbolt", "v1.5.0", 0},
}

type run struct {
	image    string
	ownedToo bool
}

// TestRealData matches the corpus images and the synthetic inventory
// against the database imported from ../shared/vulndata.
func TestRealData(t *testing.T) {
	db := openRealDB(t)
	t.Logf("database imported in %s", realDB.duration.Round(1e6))
	var (
		mu      sync.Mutex
		results = map[run][]finding.Finding{}
		invs    = map[string]*inventory.Inventory{}
	)
	get := func(t *testing.T, r run) ([]finding.Finding, *inventory.Inventory) {
		mu.Lock()
		defer mu.Unlock()
		inv := invs[r.image]
		if inv == nil {
			if r.image == synthetic {
				inv = syntheticInventory()
			} else {
				inv = corpusInventory(t, r.image)
			}
			invs[r.image] = inv
		}
		fs, ok := results[r]
		if !ok {
			var err error
			fs, err = Match(context.Background(), db, inv, Options{IncludeOSOwned: r.ownedToo})
			if err != nil {
				t.Fatal(err)
			}
			results[r] = fs
		}
		return fs, inv
	}

	t.Run("expectations", func(t *testing.T) {
		for _, e := range expectations {
			fs, inv := get(t, run{e.image, e.ownedToo})
			checkExpectation(t, e, fs, inv)
		}
		t.Logf("%d expectations", len(expectations))
	})
	t.Run("counts", func(t *testing.T) {
		for _, c := range expectedCounts {
			fs, inv := get(t, run{c.image, false})
			if !hasPackage(inv, c.pkg, c.ver) {
				t.Errorf("%s: no %s@%s in the inventory", c.image, c.pkg, c.ver)
				continue
			}
			if n := len(findingsOf(fs, c.pkg, c.ver)); n != c.n {
				t.Errorf("%s: %s@%s has %d findings, want %d", c.image, c.pkg, c.ver, n, c.n)
			}
		}
	})
	t.Run("debian13-slim is clean", func(t *testing.T) {
		fs, inv := get(t, run{slim, true})
		if inv.OS == nil || inv.OS.VersionID != "13" {
			t.Fatalf("OS %+v", inv.OS)
		}
		for _, f := range fs {
			t.Errorf("unexpected finding %s in %s@%s", f.ID, f.Package.Name, f.Package.Version)
		}
	})
	t.Run("OS-owned packages are not counted twice", func(t *testing.T) {
		def, inv := get(t, run{app, false})
		all, _ := get(t, run{app, true})
		owned := 0
		for _, p := range inv.Packages {
			if p.Type == inventory.TypePyPI && p.OwnedBy != "" {
				owned++
			}
		}
		if owned != 10 {
			t.Errorf("%d OS-owned Python packages, the image has 10", owned)
		}
		for _, f := range def {
			if f.Package.OwnedBy != "" {
				t.Errorf("OS-owned %s@%s matched by default: %s", f.Package.Name, f.Package.Version, f.ID)
			}
		}
		// requests 1, urllib3 2, certifi 2, idna 1.
		if extra := len(all) - len(def); extra != 6 {
			t.Errorf("IncludeOSOwned added %d findings, want 6", extra)
		}
	})
	t.Run("invariants", func(t *testing.T) {
		for _, r := range []run{{app, false}, {app, true}, {slim, false}, {synthetic, false}} {
			fs, _ := get(t, r)
			checkInvariants(t, db, r, fs)
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		first, inv := get(t, run{app, true})
		again, err := Match(context.Background(), db, inv, Options{IncludeOSOwned: true})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(first, again, func(a, b finding.Finding) bool { return findingKey(a) == findingKey(b) }) {
			t.Error("a second match differs")
		}
	})
}

func hasPackage(inv *inventory.Inventory, name, ver string) bool {
	return slices.ContainsFunc(inv.Packages, func(p inventory.Package) bool { return p.Name == name && p.Version == ver })
}

func findingsOf(fs []finding.Finding, name, ver string) []finding.Finding {
	var out []finding.Finding
	for _, f := range fs {
		if f.Package.Name == name && f.Package.Version == ver {
			out = append(out, f)
		}
	}
	return out
}

func checkExpectation(t *testing.T, e expectation, fs []finding.Finding, inv *inventory.Inventory) {
	t.Helper()
	where := e.image + ": " + e.pkg + "@" + e.ver + " " + e.id
	if !hasPackage(inv, e.pkg, e.ver) {
		t.Errorf("%s: package not in the inventory", where)
		return
	}
	var got []finding.Finding
	for _, f := range findingsOf(fs, e.pkg, e.ver) {
		if f.ID == e.id || slices.Contains(f.Aliases, e.id) {
			got = append(got, f)
		}
	}
	if e.absent {
		for _, f := range got {
			t.Errorf("%s: must not be reported, found %s (records %v, fixed %v)", where, f.ID, f.Records, f.FixedVersions)
		}
		return
	}
	if len(got) != 1 {
		t.Errorf("%s: %d findings, want 1", where, len(got))
		return
	}
	f := got[0]
	check := func(field, got, want string) {
		if got != want {
			t.Errorf("%s: %s = %q, want %q", where, field, got, want)
		}
	}
	check("id", f.ID, e.id)
	check("aliases", strings.Join(f.Aliases, " "), e.aliases)
	check("fixed versions", strings.Join(f.FixedVersions, " "), e.fixed)
	check("status", f.Status, e.status)
	if e.records != "" {
		check("records", strings.Join(f.Records, " "), e.records)
	}
	if e.severity != "" {
		check("severity", string(f.Severity), string(e.severity))
		check("severity source", f.SeveritySource, e.source)
	}
	if e.kev != "" {
		if f.KEV == nil {
			t.Errorf("%s: not marked as known exploited", where)
		} else {
			check("KEV date", f.KEV.DateAdded, e.kev)
		}
	} else if f.KEV != nil {
		t.Errorf("%s: unexpected KEV entry %+v", where, f.KEV)
	}
}

// checkInvariants checks what must hold for every finding: no withdrawn
// record, fixed versions above the installed version, package fields
// copied, one finding per package and id.
func checkInvariants(t *testing.T, db *store.DB, r run, fs []finding.Finding) {
	t.Helper()
	seen := map[string]bool{}
	for _, f := range fs {
		key := f.Package.Path + "\x00" + f.Package.Name + "\x00" + f.Package.Version + "\x00" + f.ID
		if seen[key] {
			t.Errorf("%v: %s reported twice for %s@%s", r, f.ID, f.Package.Name, f.Package.Version)
		}
		seen[key] = true
		if len(f.Records) == 0 || f.Package.Ecosystem == "" || f.Package.Path == "" {
			t.Errorf("%v: incomplete finding %+v", r, f)
		}
		for _, ref := range f.Records {
			i := strings.LastIndexByte(ref, ':')
			rec, err := db.FeedRecord(ref[:i], ref[i+1:])
			if err != nil {
				t.Errorf("%v: record %s: %v", r, ref, err)
			} else if !rec.Withdrawn.IsZero() {
				t.Errorf("%v: withdrawn record %s reported for %s", r, ref, f.Package.Name)
			}
		}
		c, _ := version.For(f.Package.Ecosystem)
		installed := f.Package.Version
		if f.Package.SourceVersion != "" && f.Package.SourceName != "" && !strings.HasPrefix(f.Package.SourceName, "linux-signed-") {
			installed = f.Package.SourceVersion
		}
		for _, v := range f.FixedVersions {
			if d, err := c.Compare(v, installed); err != nil || d <= 0 {
				t.Errorf("%v: %s in %s@%s: fixed version %s not above the installed %s (%v)", r, f.ID, f.Package.Name, f.Package.Version, v, installed, err)
			}
		}
		if (f.Status == finding.StatusFixed) != (len(f.FixedVersions) > 0) {
			t.Errorf("%v: %s in %s: status %s with fixed versions %v", r, f.ID, f.Package.Name, f.Status, f.FixedVersions)
		}
	}
}

func findingKey(f finding.Finding) string {
	return strings.Join([]string{f.Package.Path, f.Package.Name, f.Package.Version, f.ID, strings.Join(f.Aliases, ","),
		strings.Join(f.Records, ","), strings.Join(f.FixedVersions, ","), f.Status, string(f.Severity), f.Title}, "\x00")
}
