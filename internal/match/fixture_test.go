package match

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/vulndb"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// The hand-made database of the unit tests: a Debian 12 tracker-like feed,
// Go and PyPI OSV feeds, NVD/CNA enrichment and KEV. Every record exists to
// exercise one rule; the tests name them.

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func rng(events ...vulndb.Event) []vulndb.Range {
	return []vulndb.Range{{Type: vulndb.RangeEcosystem, Events: events}}
}

func semver(events ...vulndb.Event) []vulndb.Range {
	return []vulndb.Range{{Type: vulndb.RangeSemver, Events: events}}
}

func intro(v string) vulndb.Event { return vulndb.Event{Introduced: v} }
func fixed(v string) vulndb.Event { return vulndb.Event{Fixed: v} }
func last(v string) vulndb.Event  { return vulndb.Event{LastAffected: v} }

func urgency(word string) []vulndb.Severity {
	return []vulndb.Severity{{Type: vulndb.Vendor, Score: word, Source: "debian"}}
}

// deb is a Debian 12 tracker entry for a source package.
func deb(cve, source, status string, ranges []vulndb.Range, sev []vulndb.Severity) vulndb.Record {
	return vulndb.Record{
		ID: "DEBIAN-" + cve, Aliases: []string{cve},
		Details: "tracker text of " + cve,
		Affected: []vulndb.Affected{{
			Package: vulndb.Package{Ecosystem: "Debian:12", Name: source},
			Ranges:  ranges, Status: status, Severity: sev,
		}},
		References: []vulndb.Reference{{Type: "ADVISORY", URL: "https://security-tracker.debian.org/tracker/" + cve}},
	}
}

func goRec(id string, aliases []string, pkg string, ranges []vulndb.Range) vulndb.Record {
	return vulndb.Record{
		ID: id, Aliases: aliases, Summary: "summary of " + id, Details: "details of " + id,
		Affected:   []vulndb.Affected{{Package: vulndb.Package{Ecosystem: "Go", Name: pkg}, Ranges: ranges}},
		References: []vulndb.Reference{{Type: "FIX", URL: "https://go.dev/cl/" + id}},
	}
}

const (
	vecCritical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" // 9.8
	vecMedium   = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L" // 5.3
	vecHigh     = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H" // 7.5
	vecLow      = "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N" // 2.0
	vecV4       = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
)

func fixtureFeeds() map[string][]vulndb.Record {
	debian := []vulndb.Record{
		// openssl: installed 3.0.11-1~deb12u2 in the test images.
		deb("CVE-2024-0001", "openssl", vulndb.StatusFixed, rng(intro("0"), fixed("3.0.15-1~deb12u1")), urgency("high")),
		deb("CVE-2024-0002", "openssl", vulndb.StatusUnfixed, rng(intro("0")), urgency("low")),
		deb("CVE-2024-0003", "openssl", vulndb.StatusWillNotFix, rng(intro("0")), urgency("unimportant")),
		deb("CVE-2024-0004", "openssl", vulndb.StatusNotAffected, nil, urgency("low")),
		deb("CVE-2024-0005", "openssl", vulndb.StatusEndOfLife, rng(intro("0")), nil),
		// Fixed exactly in the installed version: not affected.
		deb("CVE-2024-0006", "openssl", vulndb.StatusFixed, rng(intro("0"), fixed("3.0.11-1~deb12u2")), urgency("high")),
		// Urgency not assigned: the CNA's rating, then NVD's.
		deb("CVE-2024-0010", "openssl", vulndb.StatusFixed, rng(intro("0"), fixed("3.0.15-1~deb12u1")), urgency("not yet assigned")),
		deb("CVE-2024-0011", "openssl", vulndb.StatusFixed, rng(intro("0"), fixed("3.0.15-1~deb12u1")), nil),
		// A binary package name is not a source name.
		deb("CVE-2024-0012", "libssl3", vulndb.StatusFixed, rng(intro("0"), fixed("9.9.9-1")), nil),
		// The signed kernel is tracked as "linux".
		deb("CVE-2024-0020", "linux", vulndb.StatusFixed, rng(intro("0"), fixed("6.1.100-1")), urgency("medium")),
		deb("CVE-2024-0021", "linux-signed-amd64", vulndb.StatusFixed, rng(intro("0"), fixed("99")), nil),
		// The Debian python3-requests package (source requests).
		deb("CVE-2023-32681", "requests", vulndb.StatusFixed, rng(intro("0"), fixed("2.28.1+dfsg-1+deb12u1")), urgency("medium")),
	}
	withdrawnDeb := deb("CVE-2024-0007", "openssl", vulndb.StatusFixed, rng(intro("0"), fixed("3.0.15-1~deb12u1")), urgency("high"))
	withdrawnDeb.Withdrawn = day("2024-05-01")
	debian = append(debian, withdrawnDeb)
	// A trixie entry does not apply to bookworm.
	trixie := deb("CVE-2024-0008", "openssl", vulndb.StatusFixed, rng(intro("0"), fixed("3.5.0-1")), nil)
	trixie.Affected[0].Package.Ecosystem = "Debian:13"
	debian = append(debian, trixie)

	// The same CVE published by OSV's Debian folder: merged with the
	// tracker's record of the same id.
	osvDebian := deb("CVE-2024-0001", "openssl", "", rng(intro("0"), fixed("3.0.15-1~deb12u1")), nil)
	osvDebian.Published, osvDebian.Modified = day("2024-02-01"), day("2024-03-01")

	ghsa := goRec("GHSA-aaaa-bbbb-cccc", []string{"CVE-2024-1001"}, "golang.org/x/net", semver(intro("0"), fixed("0.23.0")))
	ghsa.Summary = "HTTP/2 trouble in x/net"
	ghsa.Severity = []vulndb.Severity{{Type: vulndb.CVSSv3, Score: vecHigh, Source: "osv:GHSA"}, {Type: vulndb.Vendor, Score: "moderate", Source: "ghsa"}}
	ghsa.Published, ghsa.Modified = day("2024-04-03"), day("2024-04-10")
	goNet := goRec("GO-2024-0001", []string{"CVE-2024-1001", "GHSA-aaaa-bbbb-cccc"}, "golang.org/x/net", semver(intro("0"), fixed("0.23.0")))
	goNet.Published, goNet.Modified = day("2024-04-01"), day("2024-04-20")
	withdrawnGo := goRec("GO-2024-0009", []string{"CVE-2024-1009"}, "golang.org/x/net", semver(intro("0")))
	withdrawnGo.Withdrawn = day("2024-06-01")
	golang := []vulndb.Record{
		ghsa, goNet, withdrawnGo,
		// Pseudo-versions order by time.
		goRec("GO-2021-0238", []string{"CVE-2021-33194"}, "golang.org/x/net", semver(intro("0"), fixed("0.0.0-20210520170846-37e1c6afe023"))),
		goRec("GO-2020-0001", []string{"CVE-2020-0001"}, "golang.org/x/net", semver(intro("0"), fixed("0.0.0-20200101000000-000000000000"))),
		// The standard library: two lines, one finding, this line's fix.
		goRec("GO-2023-2041", []string{"CVE-2023-39318"}, "stdlib", semver(intro("0"), fixed("1.20.8"), intro("1.21.0-0"), fixed("1.21.1"))),
		goRec("GO-2023-1987", []string{"CVE-2023-29409"}, "stdlib", semver(intro("0"), fixed("1.19.12"), intro("1.21.0-0"), fixed("1.21.0-rc.4"))),
		// Boundaries: introduced is affected, fixed is not, last_affected is.
		goRec("GO-2024-0100", nil, "example.com/bounds", semver(intro("1.2.0"), fixed("1.3.0"))),
		goRec("GO-2024-0101", []string{"CVE-2024-0101"}, "example.com/last", semver(intro("0"), last("1.5.0"))),
		// An event the order cannot read: the range is skipped.
		goRec("GO-2024-0102", nil, "example.com/bounds", semver(intro("0"), fixed("not a version"))),
		// Two entries of one record for one package.
		{ID: "GO-2023-2185", Aliases: []string{"CVE-2023-45283"}, Affected: []vulndb.Affected{
			{Package: vulndb.Package{Ecosystem: "Go", Name: "stdlib"}, Ranges: semver(intro("0"), fixed("1.20.11"), intro("1.21.0-0"), fixed("1.21.4"))},
			{Package: vulndb.Package{Ecosystem: "Go", Name: "stdlib"}, Ranges: semver(intro("1.21.0-0"), fixed("1.21.5"))},
		}},
		// An id with an embedded CVE and no alias.
		goRec("UBUNTU-CVE-2024-0200", nil, "example.com/embedded", semver(intro("0"))),
	}
	// Record and the GHSA alias share an id with a CVE and the GHSA
	// record adds a CNA rating through the enrichment below.
	pysec := vulndb.Record{
		ID: "PYSEC-2023-74", Aliases: []string{"CVE-2023-32681", "GHSA-j8r2-6x86-q33q"},
		Details: "requests leaks Proxy-Authorization headers",
		Affected: []vulndb.Affected{{
			Package: vulndb.Package{Ecosystem: "PyPI", Name: "requests"},
			Ranges: []vulndb.Range{
				{Type: vulndb.RangeGit, Repo: "https://github.com/psf/requests", Events: []vulndb.Event{intro("0"), fixed("74ea7cf7a6a27a4eeb2ae24e162bcc942a6706d5")}},
				{Type: vulndb.RangeEcosystem, Events: []vulndb.Event{intro("2.3.0"), fixed("2.31.0")}},
			},
		}},
		Severity:  []vulndb.Severity{{Type: vulndb.CVSSv3, Score: vecMedium, Source: "osv:PYSEC"}},
		Published: day("2023-05-26"),
	}
	pypi := []vulndb.Record{
		pysec,
		{ID: "PYSEC-2020-96", Aliases: []string{"CVE-2020-1747"}, Affected: []vulndb.Affected{{
			Package: vulndb.Package{Ecosystem: "PyPI", Name: "PyYAML"}, Ranges: rng(intro("5.1"), fixed("5.3.1")),
		}}},
		// Only a versions list, spelled differently from the package.
		{ID: "PYSEC-2099-1", Affected: []vulndb.Affected{{
			Package: vulndb.Package{Ecosystem: "PyPI", Name: "listed"}, Versions: []string{"0.9", "1.0"},
		}}},
	}
	// Alpine and Ubuntu: the release's entries, each distribution's order
	// and ratings.
	alpine := []vulndb.Record{
		{ID: "ALPINE-CVE-2024-0300", Aliases: []string{"CVE-2024-0300"}, Affected: []vulndb.Affected{
			{Package: vulndb.Package{Ecosystem: "Alpine:v3.19", Name: "openssl"}, Ranges: rng(intro("0"), fixed("3.1.4-r5"))},
			{Package: vulndb.Package{Ecosystem: "Alpine:v3.18", Name: "openssl"}, Ranges: rng(intro("0"), fixed("3.1.9-r0"))},
		}},
		{ID: "ALPINE-CVE-2024-0301", Aliases: []string{"CVE-2024-0301"}, Affected: []vulndb.Affected{
			{Package: vulndb.Package{Ecosystem: "Alpine:v3.19", Name: "openssl"}, Ranges: rng(intro("0"), fixed("3.1.4-r1"))},
		}},
	}
	ubuntu := []vulndb.Record{{
		ID: "UBUNTU-CVE-2024-0400", Upstream: []string{"CVE-2024-0400"},
		Affected: []vulndb.Affected{{
			Package: vulndb.Package{Ecosystem: "Ubuntu:22.04:LTS", Name: "openssl"}, Ranges: rng(intro("0"), fixed("3.0.2-0ubuntu1.15")),
			Severity: []vulndb.Severity{{Type: vulndb.Vendor, Score: "medium", Source: "ubuntu"}},
		}},
		Severity: []vulndb.Severity{{Type: vulndb.CVSSv3, Score: vecCritical, Source: "osv:UBUNTU"}},
	}}
	return map[string][]vulndb.Record{
		"alpine-secdb":   alpine,
		"osv/Ubuntu":     ubuntu,
		"debian-tracker": debian,
		"osv/Debian:12":  {osvDebian},
		"osv/Go":         golang,
		"osv/PyPI":       pypi,
	}
}

// buildDB writes feeds of records (with their OSV scopes) into a new
// database in a temporary directory.
func buildDB(t testing.TB, feeds map[string][]vulndb.Record, scopes map[string]string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "vuln.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for feed, recs := range feeds {
		err := db.UpdateFeed(ctx, feed, func(w *store.FeedWriter) error {
			w.SetScope(scopes[feed])
			for i := range recs {
				if err := w.Put(&recs[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// fixtureDB builds the hand-made database in a temporary directory.
func fixtureDB(t testing.TB) *store.DB {
	t.Helper()
	ctx := context.Background()
	scopes := map[string]string{"osv/Debian:12": "Debian:12", "osv/Go": "Go", "osv/PyPI": "PyPI", "osv/Ubuntu": "Ubuntu"}
	db := buildDB(t, fixtureFeeds(), scopes)
	err := db.UpdateFeed(ctx, "nvd", func(w *store.FeedWriter) error {
		for cve, sevs := range map[string][]vulndb.Severity{
			// The distribution's "high" beats both.
			"CVE-2024-0001": {{Type: vulndb.CVSSv3, Score: vecCritical, Source: "nvd"}, {Type: vulndb.CVSSv3, Score: vecMedium, Source: "openssl-security@openssl.org"}},
			// The CNA beats NVD; the newest CVSS version of the CNA wins.
			"CVE-2024-0010": {{Type: vulndb.CVSSv3, Score: vecCritical, Source: "nvd"}, {Type: vulndb.CVSSv3, Score: vecLow, Source: "openssl-security@openssl.org"}, {Type: vulndb.CVSSv4, Score: vecV4, Source: "openssl-security@openssl.org"}},
			"CVE-2024-0011": {{Type: vulndb.CVSSv3, Score: vecCritical, Source: "nvd"}, {Type: vulndb.CVSSv3, Score: "CVSS:3.1/AV:N/broken", Source: "nvd"}},
			// GHSA beats the CNA for language packages.
			"CVE-2024-1001": {{Type: vulndb.CVSSv3, Score: vecCritical, Source: "security@golang.org"}},
			// The CNA beats the ecosystem database's own vector.
			"CVE-2023-32681": {{Type: vulndb.CVSSv3, Score: vecLow, Source: "cve@mitre.org"}, {Type: vulndb.CVSSv3, Score: vecHigh, Source: "nvd"}},
		} {
			if err := w.PutSeverities(cve, sevs); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.UpdateFeed(ctx, "kev", func(w *store.FeedWriter) error {
		return w.PutKEV(vulndb.KEV{CVE: "CVE-2024-0001", DateAdded: "2024-03-05", DueDate: "2024-03-26", KnownRansomwareCampaignUse: "Known", RequiredAction: "Apply updates."})
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}
