package version

import (
	"testing"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// Typical comparisons a matcher makes: an installed version against a
// fixed version.
var benchPairs = []struct {
	name string
	c    Comparer
	a, b string
}{
	{"Dpkg", Dpkg{}, "1:2.36.1-8+deb11u1", "1:2.36.1-8+deb11u2"},
	{"APK", APK{}, "3.1.4-r5", "3.1.4_p1-r0"},
	{"RPM", RPM{}, "1:3.0.7-25.el9_3", "1:3.0.7-27.el9"},
	{"Go", Go{}, "v0.0.0-20210226172049-e18ecbb05110", "0.17.0"},
	{"GoStdlib", Go{}, "go1.21.0", "1.21.5"},
	{"SemVer", SemVer{}, "4.17.20", "4.17.21-beta.1"},
	{"PEP440", PEP440{}, "2.31.0", "2.32.0rc1"},
	{"Maven", Maven{}, "2.13.4.2", "2.14.0-rc1"},
	{"RubyGems", RubyGems{}, "7.0.4.3", "7.0.4.rc1"},
	{"NuGet", NuGet{}, "13.0.1", "13.0.2-beta1"},
	{"Composer", Composer{}, "v5.4.3", "5.4.20-RC1"},
}

func BenchmarkCompare(b *testing.B) {
	for _, p := range benchPairs {
		b.Run(p.name, func(b *testing.B) {
			if _, err := p.c.Compare(p.a, p.b); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = p.c.Compare(p.a, p.b)
			}
		})
	}
}

func BenchmarkAffected(b *testing.B) {
	events := []vulndb.Event{{Introduced: "0"}, {Fixed: "1.0.2"}, {Introduced: "3.0.0"}, {Fixed: "3.2.5"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Affected(PEP440{}, "3.1.0", events); err != nil {
			b.Fatal(err)
		}
	}
}
