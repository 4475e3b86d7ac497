package version

import (
	"errors"
	"testing"

	"github.com/drydockscan/drydock/internal/vulndb"
)

func intro(v string) vulndb.Event { return vulndb.Event{Introduced: v} }
func fixed(v string) vulndb.Event { return vulndb.Event{Fixed: v} }
func lastAff(v string) vulndb.Event {
	return vulndb.Event{LastAffected: v}
}
func limit(v string) vulndb.Event { return vulndb.Event{Limit: v} }

// TestAffected follows the OSV schema's evaluation pseudocode and its
// examples (unfixed, fixed, multiple ranges, last_affected vs fixed,
// limit).
func TestAffected(t *testing.T) {
	tests := []struct {
		name   string
		events []vulndb.Event
		in     []string // affected
		out    []string // not affected
	}{
		{"unfixed: introduced 0", []vulndb.Event{intro("0")}, []string{"0.0.1", "1.0.0", "99.0.0"}, nil},
		{"fixed: everything before 1.0.2", []vulndb.Event{intro("0"), fixed("1.0.2")},
			[]string{"0.0.0", "1.0.1", "1.0.2-rc.1"}, []string{"1.0.2", "1.0.3", "2.0.0"}},
		{"exactly at introduced and fixed", []vulndb.Event{intro("1.0.0"), fixed("2.0.0")},
			[]string{"1.0.0", "1.9.9"}, []string{"0.9.9", "1.0.0-rc.1", "2.0.0"}},
		{"multiple ranges", []vulndb.Event{intro("1.0.0"), fixed("1.0.2"), intro("3.0.0"), fixed("3.2.5")},
			[]string{"1.0.0", "1.0.1", "3.0.0", "3.2.4"}, []string{"0.1.0", "1.0.2", "2.9.9", "3.2.5", "4.0.0"}},
		{"multiple ranges, unsorted", []vulndb.Event{fixed("3.2.5"), intro("3.0.0"), fixed("1.0.2"), intro("1.0.0")},
			[]string{"1.0.0", "1.0.1", "3.0.0", "3.2.4"}, []string{"0.1.0", "1.0.2", "2.9.9", "3.2.5", "4.0.0"}},
		{"last_affected is included", []vulndb.Event{intro("0"), lastAff("2.1.214")},
			[]string{"0.0.1", "2.1.214"}, []string{"2.1.215", "2.2.0"}},
		{"last_affected, unsorted", []vulndb.Event{lastAff("2.0.0"), intro("1.0.0")},
			[]string{"1.0.0", "2.0.0"}, []string{"0.9.0", "2.0.1"}},
		{"limit", []vulndb.Event{intro("1.0.0"), limit("2.0.0")},
			[]string{"1.0.0", "1.9.9"}, []string{"0.9.9", "2.0.0", "3.0.0"}},
		{"limit star is infinity", []vulndb.Event{intro("1.0.0"), limit("*")},
			[]string{"1.0.0", "99.0.0"}, []string{"0.9.9"}},
		{"several limits: below any", []vulndb.Event{intro("1.0.0"), limit("2.0.0"), limit("5.0.0")},
			[]string{"1.0.0", "4.9.9"}, []string{"5.0.0"}},
		{"limit below a fixed range", []vulndb.Event{intro("0"), fixed("3.0.0"), limit("2.0.0")},
			[]string{"1.9.9"}, []string{"2.0.0", "2.5.0", "3.0.0"}},
		{"no introduced matches", []vulndb.Event{intro("5.0.0")}, []string{"5.0.0"}, []string{"4.0.0"}},
		{"empty events", nil, nil, []string{"1.0.0"}},
		{"empty range (introduced = fixed)", []vulndb.Event{intro("1.0.0"), fixed("1.0.0")}, nil, []string{"0.9.0", "1.0.0", "1.1.0"}},
		{"adjacent ranges (fixed then re-introduced at the same version)", []vulndb.Event{intro("1.0.0"), fixed("2.0.0"), intro("2.0.0"), fixed("3.0.0")},
			[]string{"1.0.0", "2.0.0", "2.5.0"}, []string{"3.0.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range tt.in {
				if got, err := Affected(SemVer{}, v, tt.events); err != nil || !got {
					t.Errorf("Affected(%s) = %v, %v; want true", v, got, err)
				}
			}
			for _, v := range tt.out {
				if got, err := Affected(SemVer{}, v, tt.events); err != nil || got {
					t.Errorf("Affected(%s) = %v, %v; want false", v, got, err)
				}
			}
		})
	}
}

func TestAffectedErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		version string
		events  []vulndb.Event
	}{
		{"invalid version", "not-a-version", []vulndb.Event{intro("0")}},
		{"invalid fixed", "1.0.0", []vulndb.Event{intro("0"), fixed("x.y")}},
		{"invalid introduced", "1.0.0", []vulndb.Event{intro("x.y"), fixed("2.0.0")}},
		{"invalid limit", "1.0.0", []vulndb.Event{intro("0"), limit("x.y")}},
	} {
		if _, err := Affected(SemVer{}, tt.version, tt.events); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
	}
	if _, err := Affected(SemVer{}, "1.0.0", []vulndb.Event{{}}); err == nil {
		t.Error("an empty event: no error")
	}
}

// TestAffectedDistro checks the dpkg scheme through the same evaluation,
// with Debian's "introduced: 0".
func TestAffectedDistro(t *testing.T) {
	events := []vulndb.Event{intro("0"), fixed("1:2.36.1-8+deb11u2")}
	for v, want := range map[string]bool{
		"1:2.36.1-8":         true,
		"1:2.36.1-8+deb11u1": true,
		"2.40-1":             true, // epoch 0 < 1
		"1:2.36.1-8+deb11u2": false,
		"1:2.36.1-9":         false,
	} {
		if got, err := Affected(Dpkg{}, v, events); err != nil || got != want {
			t.Errorf("Affected(%s) = %v, %v; want %v", v, got, err, want)
		}
	}
}

// TestAffectedPyPIRecords evaluates the ranges of the real PyPI OSV
// records: every version a record lists explicitly must be inside its
// ECOSYSTEM ranges. Versions that are not PEP 440 (which the records
// carry from old releases) are counted and skipped; so are affected
// entries whose ranges are all GIT ranges.
func TestAffectedPyPIRecords(t *testing.T) {
	// Listed versions the ranges exclude, by record and version. The
	// records are inconsistent there; the evaluation follows the schema.
	const (
		overlap = "the record's ranges overlap ([0, 2.11.6) inside [2.11, 2.11.7)); the schema's sorted walk ends on fixed 2.11.6"
		gitList = "listed from the record's GIT range; its ECOSYSTEM range says fixed in 23.9.0"
		preRel  = "a pre-release of the introduced version sorts before it in PEP 440"
	)
	knownListed := map[string]string{
		"PYSEC-2021-114 2.11.6":       overlap,
		"PYSEC-2023-177 23.9.0":       gitList,
		"PYSEC-2023-177 23.9.0.post1": gitList,
		"PYSEC-2023-61 3.2a1":         preRel,
		"PYSEC-2023-61 3.2b1":         preRel,
		"PYSEC-2023-61 3.2rc1":        preRel,
		"PYSEC-2023-61 4.2a1":         preRel,
		"PYSEC-2023-61 4.2b1":         preRel,
		"PYSEC-2023-61 4.2rc1":        preRel,
	}
	seenKnown := map[string]bool{}
	records := osvRecords(t, "PyPI")
	var checked, disagree, invalidVersions, recordsWithRanges int
	var sawLastAffected bool
	for _, r := range records {
		for _, a := range r.Affected {
			var ranges []vulndb.Range
			for _, rg := range a.Ranges {
				if rg.Type == vulndb.RangeEcosystem {
					ranges = append(ranges, rg)
				}
			}
			if len(ranges) == 0 {
				continue
			}
			recordsWithRanges++
			for _, v := range a.Versions {
				if Validate(PEP440{}, v) != nil {
					invalidVersions++
					continue
				}
				in := false
				for _, rg := range ranges {
					for _, e := range rg.Events {
						if e.LastAffected != "" {
							sawLastAffected = true
						}
					}
					got, err := Affected(PEP440{}, v, rg.Events)
					if err != nil {
						t.Errorf("%s: %s: %v", r.ID, v, err)
					}
					in = in || got
				}
				checked++
				if !in {
					disagree++
					key := r.ID + " " + v
					if _, ok := knownListed[key]; ok {
						seenKnown[key] = true
					} else {
						t.Errorf("%s: %s lists %s as affected, its ranges do not", r.ID, a.Package.Name, v)
					}
				}
			}
		}
	}
	for key, reason := range knownListed {
		if !seenKnown[key] {
			t.Errorf("known disagreement %s (%s) did not occur", key, reason)
		}
	}
	if !sawLastAffected {
		t.Error("no record with last_affected was evaluated")
	}
	if checked < 10000 {
		t.Errorf("only %d listed versions checked", checked)
	}
	t.Logf("%d affected entries, %d listed versions evaluated, %d disagree, %d not PEP 440 (skipped)", recordsWithRanges, checked, disagree, invalidVersions)
}

// TestAffectedLastAffectedRecord checks PYSEC-2022-42969 (py, up to and
// including 1.11.0 via last_affected).
func TestAffectedLastAffectedRecord(t *testing.T) {
	for _, r := range osvRecords(t, "PyPI") {
		if r.ID != "PYSEC-2022-42969" {
			continue
		}
		events := r.Affected[0].Ranges[0].Events
		for v, want := range map[string]bool{"0.9.0": true, "1.11.0": true, "1.11.1": false, "2.0.0": false} {
			if got, err := Affected(PEP440{}, v, events); err != nil || got != want {
				t.Errorf("Affected(%s) = %v, %v; want %v", v, got, err, want)
			}
		}
		return
	}
	t.Fatal("PYSEC-2022-42969 not in the PyPI archive")
}
