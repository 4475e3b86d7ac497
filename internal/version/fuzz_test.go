package version

import (
	"path/filepath"
	"testing"
)

func TestFor(t *testing.T) {
	for eco, want := range map[string]Comparer{
		"Go": Go{}, "npm": SemVer{}, "crates.io": SemVer{}, "PyPI": PEP440{}, "Maven": Maven{},
		"Maven:https://maven.google.com": Maven{}, "RubyGems": RubyGems{}, "NuGet": NuGet{}, "Packagist": Composer{},
		"Debian:12": Dpkg{}, "Ubuntu:22.04:LTS": Dpkg{}, "Ubuntu:Pro:18.04:LTS": Dpkg{},
		"Alpine:v3.19": APK{}, "Wolfi": APK{}, "Chainguard": APK{},
		"Red Hat:enterprise_linux:9::appstream": RPM{}, "AlmaLinux:9": RPM{}, "Rocky Linux:9": RPM{},
		"SUSE:Linux Enterprise Server 15 SP5": RPM{}, "openSUSE:Tumbleweed": RPM{}, "Amazon Linux": RPM{},
	} {
		got, ok := For(eco)
		if !ok || got != want {
			t.Errorf("For(%q) = %T, %v; want %T", eco, got, ok, want)
		}
	}
	for _, eco := range []string{"", "Hackage", "debian", "GIT"} {
		if _, ok := For(eco); ok {
			t.Errorf("For(%q) reported a scheme", eco)
		}
	}
}

// fuzzCompare checks, for any two strings, that Compare does not panic,
// is reflexive on valid versions, antisymmetric, and that validity does
// not depend on the other argument.
func fuzzCompare(f *testing.F, c Comparer, seedFiles ...string) {
	for _, path := range seedFiles {
		vs := readVectors(f, path)
		for i, v := range vs {
			if i > 300 {
				break
			}
			f.Add(v.a, v.b)
		}
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, errAB := c.Compare(a, b)
		ba, errBA := c.Compare(b, a)
		errA, errB := Validate(c, a), Validate(c, b)
		if (errAB == nil) != (errA == nil && errB == nil) || (errBA == nil) != (errAB == nil) {
			t.Fatalf("validity: Compare(a,b) %v, Compare(b,a) %v, Validate(a) %v, Validate(b) %v", errAB, errBA, errA, errB)
		}
		if errAB != nil {
			return
		}
		if ab != -ba || ab < -1 || ab > 1 {
			t.Fatalf("Compare(%q,%q) = %d, reversed %d", a, b, ab, ba)
		}
		if aa, _ := c.Compare(a, a); aa != 0 {
			t.Fatalf("Compare(%q,%q) = %d", a, a, aa)
		}
	})
}

func FuzzDpkg(f *testing.F) {
	fuzzCompare(f, Dpkg{}, filepath.Join(scalibrVectors, "debian-versions.txt"), filepath.Join(scalibrVectors, "debian-versions-generated.txt"))
}

func FuzzAPK(f *testing.F) {
	fuzzCompare(f, APK{}, filepath.Join(scalibrVectors, "alpine-versions.txt"), filepath.Join(scalibrVectors, "alpine-versions-generated.txt"))
}

func FuzzRPM(f *testing.F) {
	fuzzCompare(f, RPM{}, filepath.Join(scalibrVectors, "redhat-versions.txt"), filepath.Join(claircoreRPM, "rpmvercmp"))
}

func FuzzPEP440(f *testing.F) {
	fuzzCompare(f, PEP440{}, filepath.Join(scalibrVectors, "pypi-versions.txt"), filepath.Join(scalibrVectors, "pypi-versions-generated.txt"))
}

func FuzzSemver(f *testing.F) {
	fuzzCompare(f, SemVer{}, filepath.Join(scalibrVectors, "semver-versions.txt"))
}

func FuzzMaven(f *testing.F) {
	fuzzCompare(f, Maven{}, filepath.Join(scalibrVectors, "maven-versions.txt"), filepath.Join(claircoreMaven, "compare.list"))
}

func FuzzGem(f *testing.F) {
	fuzzCompare(f, RubyGems{}, filepath.Join(scalibrVectors, "rubygems-versions.txt"), filepath.Join(scalibrVectors, "rubygems-versions-generated.txt"))
}

func FuzzNuGet(f *testing.F) {
	fuzzCompare(f, NuGet{}, filepath.Join(scalibrVectors, "nuget-versions.txt"))
}

func FuzzComposer(f *testing.F) {
	fuzzCompare(f, Composer{}, filepath.Join(scalibrVectors, "packagist-versions.txt"), filepath.Join(scalibrVectors, "packagist-versions-generated.txt"))
}

func FuzzGo(f *testing.F) {
	f.Add("v0.0.0-20210226172049-e18ecbb05110", "v1.2.4-0.20210226172049-e18ecbb05110")
	f.Add("go1.21rc2", "1.21.0")
	f.Add("v2.0.0+incompatible", "2.0.0")
	f.Add("go1", "1.9.2beta1")
	fuzzCompare(f, Go{}, filepath.Join(scalibrVectors, "semver-versions.txt"))
}
