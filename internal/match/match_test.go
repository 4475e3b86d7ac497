package match

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bolt "go.etcd.io/bbolt"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/version"
	"github.com/drydockscan/drydock/internal/vulndb"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// summary is what the table tests compare of a finding.
type summary struct {
	Pkg       string // name@version path
	ID        string
	Aliases   string
	Records   string
	Status    string
	Fixed     string
	Severity  finding.Severity
	SevSource string
	KEV       bool
}

func summarize(fs []finding.Finding) []summary {
	out := make([]summary, 0, len(fs))
	for _, f := range fs {
		out = append(out, summary{
			Pkg: f.Package.Name + "@" + f.Package.Version + " " + f.Package.Path,
			ID:  f.ID, Aliases: strings.Join(f.Aliases, " "), Records: strings.Join(f.Records, " "),
			Status: f.Status, Fixed: strings.Join(f.FixedVersions, " "),
			Severity: f.Severity, SevSource: f.SeveritySource, KEV: f.KEV != nil,
		})
	}
	slices.SortFunc(out, func(a, b summary) int { return cmp.Or(cmp.Compare(a.Pkg, b.Pkg), cmp.Compare(a.ID, b.ID)) })
	return out
}

const (
	dpkgStatus = "/var/lib/dpkg/status"
	sslVersion = "3.0.11-1~deb12u2"
)

func debPkg(name, version, source, sourceVersion string) inventory.Package {
	return inventory.Package{Type: inventory.TypeDeb, Name: name, Version: version, SourceName: source, SourceVersion: sourceVersion,
		Path: dpkgStatus, Layer: "sha256:layer0", PURL: "pkg:deb/debian/" + name + "@" + version}
}

func langPkg(typ, name, version, path string) inventory.Package {
	return inventory.Package{Type: typ, Name: name, Version: version, Path: path, Layer: "sha256:layer2", LayerIndex: 2}
}

// bookwormPackages is a Debian 12 image's inventory exercising every rule.
func bookwormPackages() []inventory.Package {
	owned := langPkg(inventory.TypePyPI, "requests", "2.28.1", "/usr/lib/python3/dist-packages/requests-2.28.1.egg-info")
	owned.OwnedBy = "deb:python3-requests"
	gomodStd := langPkg(inventory.TypeGo, "stdlib", "1.22.0", "/src/go.mod")
	gomodStd.Meta = map[string]string{"from": "go"}
	return []inventory.Package{
		debPkg("libssl3", sslVersion, "openssl", sslVersion),
		debPkg("openssl", sslVersion, "", ""),
		debPkg("linux-image-6.1.0-18-amd64", "6.1.76-1", "linux-signed-amd64", "6.1.76+1"),
		debPkg("python3-requests", "2.28.1+dfsg-1", "requests", "2.28.1+dfsg-1"),
		owned,
		langPkg(inventory.TypePyPI, "PyYAML", "5.3", "/app/venv/PyYAML-5.3.dist-info"),
		langPkg(inventory.TypePyPI, "listed", "1.0.0", "/app/venv/listed-1.0.0.dist-info"),
		langPkg(inventory.TypeGo, "golang.org/x/net", "v0.0.0-20210226172049-e18ecbb05110", "/app/bin/server"),
		langPkg(inventory.TypeGo, "stdlib", "1.21.0", "/app/bin/server"),
		langPkg(inventory.TypeGo, "stdlib", "1.20.3", "/app/bin/old"),
		gomodStd,
		langPkg(inventory.TypeGo, "example.com/bounds", "v1.2.0", "/app/bin/a"),
		langPkg(inventory.TypeGo, "example.com/bounds", "v1.3.0", "/app/bin/b"),
		langPkg(inventory.TypeGo, "example.com/bounds", "v1.1.9", "/app/bin/c"),
		langPkg(inventory.TypeGo, "example.com/last", "v1.5.0", "/app/bin/a"),
		langPkg(inventory.TypeGo, "example.com/last", "v1.5.1", "/app/bin/b"),
		langPkg(inventory.TypeGo, "example.com/embedded", "v1.0.0", "/app/bin/a"),
		langPkg(inventory.TypeGo, "example.com/main", "(devel)", "/app/bin/a"),
		langPkg(inventory.TypeGo, "example.com/bad", "garbage!", "/app/bin/a"),
		langPkg(inventory.TypeNPM, "left-pad", "1.0.0", "/app/package-lock.json"),
		langPkg("conan", "zlib", "1.3", "/app/conan.lock"),
	}
}

var bookworm = &inventory.OS{ID: "debian", VersionID: "12", Codename: "bookworm"}

// opensslWant are the findings of an openssl binary at sslVersion.
func opensslWant(pkg string) []summary {
	p := pkg + "@" + sslVersion + " " + dpkgStatus
	return []summary{
		{Pkg: p, ID: "CVE-2024-0001", Aliases: "DEBIAN-CVE-2024-0001", Records: "debian-tracker:DEBIAN-CVE-2024-0001 osv/Debian:12:DEBIAN-CVE-2024-0001",
			Status: "fixed", Fixed: "3.0.15-1~deb12u1", Severity: finding.High, SevSource: "debian", KEV: true},
		{Pkg: p, ID: "CVE-2024-0002", Aliases: "DEBIAN-CVE-2024-0002", Records: "debian-tracker:DEBIAN-CVE-2024-0002",
			Status: "unfixed", Severity: finding.Low, SevSource: "debian"},
		{Pkg: p, ID: "CVE-2024-0003", Aliases: "DEBIAN-CVE-2024-0003", Records: "debian-tracker:DEBIAN-CVE-2024-0003",
			Status: "will-not-fix", Severity: finding.Negligible, SevSource: "debian"},
		{Pkg: p, ID: "CVE-2024-0005", Aliases: "DEBIAN-CVE-2024-0005", Records: "debian-tracker:DEBIAN-CVE-2024-0005",
			Status: "will-not-fix", Severity: finding.Unknown},
		{Pkg: p, ID: "CVE-2024-0010", Aliases: "DEBIAN-CVE-2024-0010", Records: "debian-tracker:DEBIAN-CVE-2024-0010",
			Status: "fixed", Fixed: "3.0.15-1~deb12u1", Severity: finding.Critical, SevSource: "openssl-security@openssl.org"},
		{Pkg: p, ID: "CVE-2024-0011", Aliases: "DEBIAN-CVE-2024-0011", Records: "debian-tracker:DEBIAN-CVE-2024-0011",
			Status: "fixed", Fixed: "3.0.15-1~deb12u1", Severity: finding.Critical, SevSource: "nvd"},
	}
}

func bookwormWant() []summary {
	want := append(opensslWant("libssl3"), opensslWant("openssl")...)
	return append(want, []summary{
		{Pkg: "linux-image-6.1.0-18-amd64@6.1.76-1 " + dpkgStatus, ID: "CVE-2024-0020", Aliases: "DEBIAN-CVE-2024-0020", Records: "debian-tracker:DEBIAN-CVE-2024-0020",
			Status: "fixed", Fixed: "6.1.100-1", Severity: finding.Medium, SevSource: "debian"},
		{Pkg: "python3-requests@2.28.1+dfsg-1 " + dpkgStatus, ID: "CVE-2023-32681", Aliases: "DEBIAN-CVE-2023-32681", Records: "debian-tracker:DEBIAN-CVE-2023-32681",
			Status: "fixed", Fixed: "2.28.1+dfsg-1+deb12u1", Severity: finding.Medium, SevSource: "debian"},
		{Pkg: "PyYAML@5.3 /app/venv/PyYAML-5.3.dist-info", ID: "CVE-2020-1747", Aliases: "PYSEC-2020-96", Records: "osv/PyPI:PYSEC-2020-96",
			Status: "fixed", Fixed: "5.3.1", Severity: finding.Unknown},
		{Pkg: "listed@1.0.0 /app/venv/listed-1.0.0.dist-info", ID: "PYSEC-2099-1", Records: "osv/PyPI:PYSEC-2099-1",
			Status: "unfixed", Severity: finding.Unknown},
		{Pkg: "golang.org/x/net@v0.0.0-20210226172049-e18ecbb05110 /app/bin/server", ID: "CVE-2021-33194", Aliases: "GO-2021-0238", Records: "osv/Go:GO-2021-0238",
			Status: "fixed", Fixed: "v0.0.0-20210520170846-37e1c6afe023", Severity: finding.Unknown},
		{Pkg: "golang.org/x/net@v0.0.0-20210226172049-e18ecbb05110 /app/bin/server", ID: "CVE-2024-1001", Aliases: "GHSA-aaaa-bbbb-cccc GO-2024-0001",
			Records: "osv/Go:GHSA-aaaa-bbbb-cccc osv/Go:GO-2024-0001", Status: "fixed", Fixed: "v0.23.0", Severity: finding.Medium, SevSource: "ghsa"},
		{Pkg: "stdlib@1.21.0 /app/bin/server", ID: "CVE-2023-39318", Aliases: "GO-2023-2041", Records: "osv/Go:GO-2023-2041",
			Status: "fixed", Fixed: "1.21.1", Severity: finding.Unknown},
		{Pkg: "stdlib@1.21.0 /app/bin/server", ID: "CVE-2023-45283", Aliases: "GO-2023-2185", Records: "osv/Go:GO-2023-2185",
			Status: "fixed", Fixed: "1.21.4 1.21.5", Severity: finding.Unknown},
		{Pkg: "stdlib@1.20.3 /app/bin/old", ID: "CVE-2023-39318", Aliases: "GO-2023-2041", Records: "osv/Go:GO-2023-2041",
			Status: "fixed", Fixed: "1.20.8", Severity: finding.Unknown},
		{Pkg: "stdlib@1.20.3 /app/bin/old", ID: "CVE-2023-45283", Aliases: "GO-2023-2185", Records: "osv/Go:GO-2023-2185",
			Status: "fixed", Fixed: "1.20.11", Severity: finding.Unknown},
		{Pkg: "example.com/bounds@v1.2.0 /app/bin/a", ID: "GO-2024-0100", Records: "osv/Go:GO-2024-0100",
			Status: "fixed", Fixed: "v1.3.0", Severity: finding.Unknown},
		{Pkg: "example.com/last@v1.5.0 /app/bin/a", ID: "CVE-2024-0101", Aliases: "GO-2024-0101", Records: "osv/Go:GO-2024-0101",
			Status: "unfixed", Severity: finding.Unknown},
		{Pkg: "example.com/embedded@v1.0.0 /app/bin/a", ID: "CVE-2024-0200", Aliases: "UBUNTU-CVE-2024-0200", Records: "osv/Go:UBUNTU-CVE-2024-0200",
			Status: "unfixed", Severity: finding.Unknown},
	}...)
}

var ownedRequests = summary{
	Pkg: "requests@2.28.1 /usr/lib/python3/dist-packages/requests-2.28.1.egg-info", ID: "CVE-2023-32681", Aliases: "GHSA-j8r2-6x86-q33q PYSEC-2023-74",
	Records: "osv/PyPI:PYSEC-2023-74", Status: "fixed", Fixed: "2.31.0", Severity: finding.Low, SevSource: "cve@mitre.org",
}

func TestMatch(t *testing.T) {
	db := fixtureDB(t)
	libssl := []inventory.Package{debPkg("libssl3", sslVersion, "openssl", sslVersion)}
	tests := []struct {
		name string
		os   *inventory.OS
		pkgs []inventory.Package
		opts Options
		want []summary
	}{
		{name: "bookworm", os: bookworm, pkgs: bookwormPackages(), want: bookwormWant()},
		{name: "bookworm, OS-owned packages included", os: bookworm, pkgs: bookwormPackages(), opts: Options{IncludeOSOwned: true},
			want: append(bookwormWant(), ownedRequests)},
		{name: "release from the code name", os: &inventory.OS{ID: "debian", Codename: "bookworm"}, pkgs: libssl, want: opensslWant("libssl3")},
		{name: "release from a point-release VERSION_ID", os: &inventory.OS{ID: "debian", VersionID: "12.5"}, pkgs: libssl, want: opensslWant("libssl3")},
		{name: "trixie entries only", os: &inventory.OS{ID: "debian", VersionID: "13"}, pkgs: libssl, want: []summary{
			{Pkg: "libssl3@" + sslVersion + " " + dpkgStatus, ID: "CVE-2024-0008", Aliases: "DEBIAN-CVE-2024-0008", Records: "debian-tracker:DEBIAN-CVE-2024-0008",
				Status: "fixed", Fixed: "3.5.0-1", Severity: finding.Unknown},
		}},
		{name: "alpine v3.19", os: &inventory.OS{ID: "alpine", VersionID: "3.19.1"}, pkgs: []inventory.Package{
			{Type: inventory.TypeAPK, Name: "libcrypto3", Version: "3.1.4-r1", SourceName: "openssl", Path: "/lib/apk/db/installed"},
		}, want: []summary{
			{Pkg: "libcrypto3@3.1.4-r1 /lib/apk/db/installed", ID: "CVE-2024-0300", Aliases: "ALPINE-CVE-2024-0300", Records: "alpine-secdb:ALPINE-CVE-2024-0300",
				Status: "fixed", Fixed: "3.1.4-r5", Severity: finding.Unknown},
		}},
		{name: "ubuntu 22.04", os: &inventory.OS{ID: "ubuntu", VersionID: "22.04"}, pkgs: []inventory.Package{
			debPkg("libssl3", "3.0.2-0ubuntu1.10", "openssl", "3.0.2-0ubuntu1.10"),
		}, want: []summary{
			{Pkg: "libssl3@3.0.2-0ubuntu1.10 " + dpkgStatus, ID: "CVE-2024-0400", Aliases: "UBUNTU-CVE-2024-0400", Records: "osv/Ubuntu:UBUNTU-CVE-2024-0400",
				Status: "fixed", Fixed: "3.0.2-0ubuntu1.15", Severity: finding.Medium, SevSource: "ubuntu"},
		}},
		{name: "distribution without a feed", os: &inventory.OS{ID: "arch", IDLike: []string{"debian"}}, pkgs: libssl},
		// Without a feed for the owner, an owned package is matched in its
		// own ecosystem rather than not at all.
		{name: "owned package, distribution without a feed", os: &inventory.OS{ID: "rhel", VersionID: "9.3"}, pkgs: []inventory.Package{
			{Type: inventory.TypeRPM, Name: "python3-requests", Version: "2.25.1-8.el9", Path: "/var/lib/rpm/rpmdb.sqlite"},
			bookwormPackages()[4],
		}, want: []summary{ownedRequests}},
		{name: "no OS", pkgs: libssl},
		{name: "package type of another family", os: &inventory.OS{ID: "alpine", VersionID: "3.19.1"}, pkgs: libssl},
		{name: "empty inventory", os: bookworm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &inventory.Inventory{OS: tt.os, Packages: tt.pkgs}
			got, err := Match(context.Background(), db, inv, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.IsSortedFunc(got, finding.Compare) {
				t.Error("findings not sorted with finding.Compare")
			}
			want := tt.want
			slices.SortFunc(want, func(a, b summary) int { return cmp.Or(cmp.Compare(a.Pkg, b.Pkg), cmp.Compare(a.ID, b.ID)) })
			if diff := gocmp.Diff(want, summarize(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFindingFields checks every field of two merged findings.
func TestFindingFields(t *testing.T) {
	db := fixtureDB(t)
	inv := &inventory.Inventory{OS: bookworm, Packages: bookwormPackages()}
	got, err := Match(context.Background(), db, inv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	find := func(pkg, id string) finding.Finding {
		for _, f := range got {
			if f.Package.Name == pkg && f.ID == id {
				return f
			}
		}
		t.Fatalf("no finding %s for %s", id, pkg)
		return finding.Finding{}
	}
	want := []finding.Finding{{
		ID: "CVE-2024-1001", Aliases: []string{"GHSA-aaaa-bbbb-cccc", "GO-2024-0001"},
		Records: []string{"osv/Go:GHSA-aaaa-bbbb-cccc", "osv/Go:GO-2024-0001"},
		Package: finding.Package{Type: "golang", Name: "golang.org/x/net", Version: "v0.0.0-20210226172049-e18ecbb05110",
			Path: "/app/bin/server", Layer: "sha256:layer2", LayerIndex: 2, Ecosystem: "Go"},
		Status: "fixed", FixedVersions: []string{"v0.23.0"},
		Severity: finding.Medium, SeveritySource: "ghsa",
		CVSS: []finding.CVSS{
			{Version: "3.1", Vector: vecHigh, Score: 7.5, Source: "ghsa"},
			{Version: "3.1", Vector: vecCritical, Score: 9.8, Source: "security@golang.org"},
		},
		Title: "HTTP/2 trouble in x/net", Description: "details of GHSA-aaaa-bbbb-cccc",
		References: []string{"https://go.dev/cl/GHSA-aaaa-bbbb-cccc", "https://go.dev/cl/GO-2024-0001"},
		PrimaryURL: "https://github.com/advisories/GHSA-aaaa-bbbb-cccc",
		Published:  "2024-04-01T00:00:00Z", Modified: "2024-04-20T00:00:00Z",
	}, {
		ID: "CVE-2024-0001", Aliases: []string{"DEBIAN-CVE-2024-0001"},
		Records: []string{"debian-tracker:DEBIAN-CVE-2024-0001", "osv/Debian:12:DEBIAN-CVE-2024-0001"},
		Package: finding.Package{Type: "deb", Name: "libssl3", Version: sslVersion, SourceName: "openssl", SourceVersion: sslVersion,
			PURL: "pkg:deb/debian/libssl3@" + sslVersion, Path: dpkgStatus, Layer: "sha256:layer0", Ecosystem: "Debian:12"},
		Status: "fixed", FixedVersions: []string{"3.0.15-1~deb12u1"},
		Severity: finding.High, SeveritySource: "debian",
		CVSS: []finding.CVSS{
			{Version: "3.1", Vector: vecCritical, Score: 9.8, Source: "nvd"},
			{Version: "3.1", Vector: vecMedium, Score: 5.3, Source: "openssl-security@openssl.org"},
		},
		KEV:         &finding.KEV{DateAdded: "2024-03-05", DueDate: "2024-03-26", RansomwareUse: "Known", RequiredAction: "Apply updates."},
		Description: "tracker text of CVE-2024-0001",
		References:  []string{"https://security-tracker.debian.org/tracker/CVE-2024-0001"},
		PrimaryURL:  "https://security-tracker.debian.org/tracker/CVE-2024-0001",
		// Record returns the most recently modified copy: OSV's, with dates.
		Published: "2024-02-01T00:00:00Z", Modified: "2024-03-01T00:00:00Z",
	}}
	for _, w := range want {
		if diff := gocmp.Diff(w, find(w.Package.Name, w.ID)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", w.ID, diff)
		}
	}
}

// TestDeterministic matches the same inventory in two package orders.
func TestDeterministic(t *testing.T) {
	db := fixtureDB(t)
	pkgs := bookwormPackages()
	a, err := Match(context.Background(), db, &inventory.Inventory{OS: bookworm, Packages: pkgs}, Options{IncludeOSOwned: true})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(pkgs)
	b, err := Match(context.Background(), db, &inventory.Inventory{OS: bookworm, Packages: pkgs}, Options{IncludeOSOwned: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) == 0 {
		t.Fatal("no findings")
	}
	if diff := gocmp.Diff(a, b); diff != "" {
		t.Errorf("order changed the result (-first +second):\n%s", diff)
	}
}

func TestCancelled(t *testing.T) {
	db := fixtureDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Match(ctx, db, &inventory.Inventory{OS: bookworm, Packages: bookwormPackages()}, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestRecordError damages the records of the feed a package matches in,
// as a broken or tampered database file would: the match fails, naming
// the record.
func TestRecordError(t *testing.T) {
	tests := []struct {
		name   string
		damage func(b *bolt.Bucket, k []byte) error
		want   error
	}{
		{"missing", func(b *bolt.Bucket, k []byte) error { return b.Delete(k) }, store.ErrNotFound},
		{"corrupt", func(b *bolt.Bucket, k []byte) error { return b.Put(k, []byte("not a record")) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fixture := fixtureDB(t)
			path := fixture.Path()
			if err := fixture.Close(); err != nil {
				t.Fatal(err)
			}
			damageRecords(t, path, "osv/Debian:12", tt.damage)
			db, err := store.Open(context.Background(), path, store.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			_, err = Match(context.Background(), db, &inventory.Inventory{OS: bookworm, Packages: bookwormPackages()[:1]}, Options{})
			if err == nil || !strings.Contains(err.Error(), "DEBIAN-CVE-2024-") || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err = %v, want an error naming the record (%v)", err, tt.want)
			}
		})
	}
}

// damageRecords applies damage to every record a feed of the database
// file holds.
func damageRecords(t *testing.T, path, feed string, damage func(b *bolt.Bucket, k []byte) error) {
	t.Helper()
	b, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		rec := tx.Bucket([]byte("feeds")).Bucket([]byte(feed)).Bucket([]byte("rec"))
		var keys [][]byte
		if err := rec.ForEach(func(k, _ []byte) error { keys = append(keys, slices.Clone(k)); return nil }); err != nil {
			return err
		}
		for _, k := range keys {
			if err := damage(rec, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOSEcosystem(t *testing.T) {
	tests := []struct {
		os          *inventory.OS
		eco, distro string
	}{
		{&inventory.OS{ID: "debian", VersionID: "12"}, "Debian:12", "debian"},
		{&inventory.OS{ID: "debian", VersionID: "11", Codename: "bullseye"}, "Debian:11", "debian"},
		{&inventory.OS{ID: "debian", Codename: "trixie"}, "Debian:13", "debian"},
		{&inventory.OS{ID: "debian", Codename: "sid"}, "Debian:sid", "debian"},
		{&inventory.OS{ID: "debian"}, "", ""},
		{&inventory.OS{ID: "ubuntu", VersionID: "22.04", Codename: "jammy"}, "Ubuntu:22.04", "ubuntu"},
		{&inventory.OS{ID: "alpine", VersionID: "3.19.1"}, "Alpine:v3.19", "alpine"},
		{&inventory.OS{ID: "alpine", Version: "3.20.0"}, "Alpine:v3.20", "alpine"},
		{&inventory.OS{ID: "alpine", VersionID: "3.21.0_alpha20240807"}, "", ""},
		{&inventory.OS{ID: "wolfi", VersionID: "20230201"}, "Wolfi", "wolfi"},
		{&inventory.OS{ID: "almalinux", VersionID: "9.3"}, "AlmaLinux:9", "almalinux"},
		{&inventory.OS{ID: "rocky", VersionID: "8.9"}, "Rocky Linux:8", "rocky"},
		{&inventory.OS{ID: "rhel", VersionID: "9.3"}, "", ""},
		{nil, "", ""},
	}
	for _, tt := range tests {
		eco, distro := OSEcosystem(tt.os)
		if eco != tt.eco || distro != tt.distro {
			t.Errorf("OSEcosystem(%+v) = %q, %q; want %q, %q", tt.os, eco, distro, tt.eco, tt.distro)
		}
	}
}

// TestLanguageEcosystem checks that every language type has an ecosystem
// the version package orders.
func TestLanguageEcosystem(t *testing.T) {
	want := map[string]string{
		inventory.TypeGo: "Go", inventory.TypeNPM: "npm", inventory.TypePyPI: "PyPI", inventory.TypeMaven: "Maven",
		inventory.TypeCargo: "crates.io", inventory.TypeGem: "RubyGems", inventory.TypeComposer: "Packagist", inventory.TypeNuGet: "NuGet",
		inventory.TypeDeb: "", "conan": "",
	}
	for typ, eco := range want {
		if got := LanguageEcosystem(typ); got != eco {
			t.Errorf("LanguageEcosystem(%q) = %q, want %q", typ, got, eco)
		}
		if eco == "" {
			continue
		}
		if _, ok := version.For(eco); !ok {
			t.Errorf("no version order for %s", eco)
		}
		if !vulndb.KnownEcosystem(eco) {
			t.Errorf("%s is not an OSV ecosystem", eco)
		}
	}
}

func TestOSSource(t *testing.T) {
	tests := []struct {
		eco               string
		pkg               inventory.Package
		wantName, wantVer string
	}{
		{"Debian:12", debPkg("libssl3", "3.0.11-1", "openssl", "3.0.11-1"), "openssl", "3.0.11-1"},
		{"Debian:12", debPkg("bash", "5.2.15-2", "", ""), "bash", "5.2.15-2"},
		{"Debian:12", debPkg("libfoo", "1:2.0-1", "foo", ""), "foo", "1:2.0-1"},
		{"Debian:12", debPkg("linux-image-amd64", "6.1.76-1", "linux-signed-amd64", "6.1.76+1"), "linux", "6.1.76-1"},
		{"Debian:12", debPkg("linux-image-6.12-amd64", "6.12.9-1~bpo12+1", "linux-signed-6.12-amd64", "6.12.9+1~bpo12+1"), "linux-6.12", "6.12.9-1~bpo12+1"},
		{"Ubuntu:22.04", debPkg("linux-image", "5.15.0-91.101", "linux-signed-foo", "5.15.0-91.101"), "linux-signed-foo", "5.15.0-91.101"},
	}
	for _, tt := range tests {
		name, ver := osSource(tt.eco, &tt.pkg)
		if name != tt.wantName || ver != tt.wantVer {
			t.Errorf("osSource(%s, %s %s) = %s %s, want %s %s", tt.eco, tt.pkg.Name, tt.pkg.SourceName, name, ver, tt.wantName, tt.wantVer)
		}
	}
}

func TestNextFixed(t *testing.T) {
	ev := func(pairs ...string) []vulndb.Event {
		var out []vulndb.Event
		for i := 0; i < len(pairs); i += 2 {
			switch pairs[i] {
			case "i":
				out = append(out, intro(pairs[i+1]))
			case "f":
				out = append(out, fixed(pairs[i+1]))
			case "l":
				out = append(out, last(pairs[i+1]))
			}
		}
		return out
	}
	tests := []struct {
		version string
		events  []vulndb.Event
		want    string
	}{
		{"1.20.3", ev("i", "0", "f", "1.20.8", "i", "1.21.0-0", "f", "1.21.1"), "1.20.8"},
		{"1.21.0", ev("i", "0", "f", "1.20.8", "i", "1.21.0-0", "f", "1.21.1"), "1.21.1"},
		{"1.2.0", ev("i", "0", "l", "1.5.0", "i", "2.0.0", "f", "2.3.0"), ""},
		{"1.5.0", ev("i", "0", "l", "1.5.0"), ""},
		{"2.1.0", ev("i", "0", "l", "1.5.0", "i", "2.0.0", "f", "2.3.0"), "2.3.0"},
		{"1.0.0", ev("i", "0"), ""},
		// Events out of order.
		{"1.26.12", ev("i", "2.0.0", "f", "2.0.6", "i", "0", "f", "1.26.17"), "1.26.17"},
		// Unreadable events are passed over.
		{"1.0.0", ev("i", "0", "f", "bogus", "f", "1.1.0"), "1.1.0"},
	}
	for _, tt := range tests {
		if got := nextFixed(version.Go{}, tt.version, tt.events); got != tt.want {
			t.Errorf("nextFixed(%s, %+v) = %q, want %q", tt.version, tt.events, got, tt.want)
		}
	}
}

func TestPrimaryID(t *testing.T) {
	tests := []struct {
		ids  []string
		want string
	}{
		{[]string{"CVE-2024-10000", "CVE-2024-9999", "GO-2024-1"}, "CVE-2024-9999"},
		{[]string{"CVE-2023-50000", "CVE-2024-1000"}, "CVE-2023-50000"},
		{[]string{"GHSA-xxxx", "GO-2024-1"}, "GHSA-xxxx"},
		{[]string{"ALPINE-CVE-2024-7000", "UBUNTU-CVE-2024-12000"}, "CVE-2024-7000"},
		{[]string{"DEBIAN-CVE-bogus", "RUSTSEC-2024-1"}, "DEBIAN-CVE-bogus"},
	}
	for _, tt := range tests {
		if got := primaryID(tt.ids, cveIDs(tt.ids)); got != tt.want {
			t.Errorf("primaryID(%v) = %s, want %s", tt.ids, got, tt.want)
		}
	}
}
