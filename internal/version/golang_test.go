package version

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// TestGoOrder checks Go module and toolchain versions against orders
// fixed by the Go module reference (pseudo-versions, +incompatible) and
// the Go vulnerability database's tag mapping.
func TestGoOrder(t *testing.T) {
	// Each list is in strictly increasing order; "=" entries equal their
	// predecessor.
	chains := [][]string{
		// A pseudo-version with no base sorts below every release, and
		// pseudo-versions order by their UTC timestamp.
		{"v0.0.0-20190101000000-aaaaaaaaaaaa", "v0.0.0-20210226172049-e18ecbb05110", "v0.0.0-20210226172050-000000000000", "v0.1.0"},
		// vX.Y.(Z+1)-0.timestamp-hash sits between vX.Y.Z and vX.Y.(Z+1).
		{"v1.2.3", "v1.2.4-0.20210226172049-e18ecbb05110", "v1.2.4-0.20220101000000-000000000000", "v1.2.4"},
		// vX.Y.Z-pre.0.timestamp-hash follows vX.Y.Z-pre.
		{"v1.2.4-rc.1", "v1.2.4-rc.1.0.20210226172049-e18ecbb05110", "v1.2.4-rc.2", "v1.2.4"},
		// Prereleases and without "v" (as in OSV records).
		{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0", "v1.0.1", "1.10.0"},
		// Go toolchain versions in all their spellings.
		{"go1.9", "1.9.2", "go1.20", "1.21rc2", "go1.21.0", "1.21.1", "1.22.0-0", "1.22.0"},
		{"go1", "1.0.1", "go1.2rc1", "1.2", "go1.2.1beta1", "1.2.1"},
	}
	for _, chain := range chains {
		for i := 1; i < len(chain); i++ {
			a, b := chain[i-1], chain[i]
			if got, err := (Go{}).Compare(a, b); err != nil || got != -1 {
				t.Errorf("Compare(%q, %q) = %d, %v; want -1", a, b, got, err)
			}
			if got, err := (Go{}).Compare(b, a); err != nil || got != 1 {
				t.Errorf("Compare(%q, %q) = %d, %v; want 1", b, a, got, err)
			}
		}
	}
	equal := [][2]string{
		{"v2.0.0+incompatible", "v2.0.0"},
		{"2.0.0+incompatible", "v2.0.0"},
		{"go1.21.0", "1.21.0"},
		{"go1.21", "1.21.0"},
		{"1.20", "v1.20.0"},
		{"go1.21rc2", "1.21.0-rc.2"},
		{"go1", "v1.0.0"},
	}
	for _, e := range equal {
		if got, err := (Go{}).Compare(e[0], e[1]); err != nil || got != 0 {
			t.Errorf("Compare(%q, %q) = %d, %v; want 0", e[0], e[1], got, err)
		}
	}
	for _, bad := range []string{"", "v", "1.2.3.4", "v1.2.3-01", "go1.21rc", "latest", "go2.0beta", "vgo1.2", "1.21rc02"} {
		if _, err := (Go{}).Compare(bad, "v1.0.0"); !errors.Is(err, ErrInvalid) {
			t.Errorf("Compare(%q, v1.0.0): err = %v, want ErrInvalid", bad, err)
		}
	}
}

// TestGoPseudoVersionsFromModule builds pseudo-versions with x/mod's
// module.PseudoVersion and checks they order by time and below their
// release.
func TestGoPseudoVersionsFromModule(t *testing.T) {
	rev := "e18ecbb05110"
	for _, base := range []string{"", "v1.2.3", "v1.2.4-rc.1"} {
		older := module.PseudoVersion("v1", base, mustTime(t, "2021-02-26T17:20:49Z"), rev)
		newer := module.PseudoVersion("v1", base, mustTime(t, "2021-02-26T17:20:50Z"), rev)
		if got, _ := (Go{}).Compare(older, newer); got != -1 {
			t.Errorf("%s vs %s = %d, want -1", older, newer, got)
		}
		if base != "" {
			if got, _ := (Go{}).Compare(base, older); got != -1 {
				t.Errorf("%s vs %s = %d, want -1 (pseudo-version follows its base)", base, older, got)
			}
		}
	}
}

// TestGoRealVersions parses every version of the Go OSV records, and
// checks Compare agrees with x/mod/semver on them.
func TestGoRealVersions(t *testing.T) {
	vs := eventVersions(osvRecords(t, "Go"))
	if len(vs) < 1000 {
		t.Fatalf("only %d versions in the Go records", len(vs))
	}
	for i, v := range vs {
		if err := Validate(Go{}, v); err != nil {
			t.Errorf("%v", err)
			continue
		}
		w := vs[(i*7919)%len(vs)]
		got, err := (Go{}).Compare(v, w)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if want := semver.Compare("v"+v, "v"+w); got != want {
			t.Errorf("Compare(%q, %q) = %d, x/mod/semver says %d", v, w, got, want)
		}
	}
	t.Logf("%d Go record versions parse", len(vs))
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
