package match

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
)

// TestSharedReads: matches that share one Reads against one open
// database give exactly the findings of matches that read for
// themselves; a record the first match decoded is not decoded again for
// the next images (debian12-app, debian13-slim, debian12-app again);
// concurrent matches may share it.
func TestSharedReads(t *testing.T) {
	db := openRealDB(t)
	ctx := context.Background()
	invs := []*inventory.Inventory{corpusInventory(t, "debian12-app"), corpusInventory(t, "debian13-slim"), corpusInventory(t, "debian12-app")}
	opts := Options{IncludeOSOwned: true}
	reads := NewReads()
	shared := opts
	shared.Reads = reads
	var decodedBefore []int
	for i, inv := range invs {
		own, err := Match(ctx, db, inv, opts)
		if err != nil {
			t.Fatal(err)
		}
		decodedBefore = append(decodedBefore, reads.Decoded())
		got, err := Match(ctx, db, inv, shared)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && len(own) == 0 {
			t.Fatal("debian12-app: no findings to compare")
		}
		if diff := gocmp.Diff(own, got); diff != "" {
			t.Errorf("image %d: shared reads changed the findings (-own +shared):\n%s", i, diff)
		}
	}
	if decodedBefore[0] != 0 || reads.Decoded() == 0 {
		t.Fatalf("decoded %v then %d", decodedBefore, reads.Decoded())
	}
	if n := reads.Decoded() - decodedBefore[2]; n != 0 {
		t.Errorf("the second match of the same image decoded %d records again", n)
	}
	t.Logf("records decoded: %d for debian12-app, %d more for debian13-slim, 0 for debian12-app again", decodedBefore[1], decodedBefore[2]-decodedBefore[1])

	// Concurrent matches over one Reads (the race detector watches).
	want, err := Match(ctx, db, invs[0], opts)
	if err != nil {
		t.Fatal(err)
	}
	conc := Options{IncludeOSOwned: true, Reads: NewReads()}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			got, err := Match(ctx, db, invs[0], conc)
			if err != nil {
				t.Error(err)
				return
			}
			if diff := gocmp.Diff(want, got); diff != "" {
				t.Errorf("concurrent shared match differs:\n%s", diff)
			}
		})
	}
	wg.Wait()
}

// BenchmarkRematch1000Images matches debian12-app's inventory as a server
// re-matching 1,000 stored images after an update does: against one open
// database, each image on its own (own) or sharing what was read (shared).
func BenchmarkRematch1000Images(b *testing.B) {
	db := openRealDB(b)
	inv := corpusInventory(b, "debian12-app")
	ctx := context.Background()
	for _, mode := range []string{"own", "shared"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				opts := Options{IncludeOSOwned: true}
				if mode == "shared" {
					opts.Reads = NewReads()
				}
				for range 1000 {
					if _, err := Match(ctx, db, inv, opts); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// TestParallelLookup: a match spread over several lookup workers finds
// what one worker finds, and reads each record once: the copy it uses,
// not every feed's (the shared database holds the Debian records in two
// feeds).
func TestParallelLookup(t *testing.T) {
	db := openRealDB(t)
	ctx := context.Background()
	for _, image := range []string{app, slim, synthetic} {
		t.Run(image, func(t *testing.T) {
			inv := syntheticInventory()
			if image != synthetic {
				inv = corpusInventory(t, image)
			}
			match := func(procs int) ([]finding.Finding, int) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				reads := NewReads()
				fs, err := Match(ctx, db, inv, Options{IncludeOSOwned: true, Reads: reads})
				if err != nil {
					t.Fatal(err)
				}
				return fs, reads.Decoded()
			}
			one, oneDecoded := match(1)
			four, fourDecoded := match(4)
			if diff := gocmp.Diff(one, four); diff != "" {
				t.Errorf("four workers found otherwise (-one +four):\n%s", diff)
			}
			ids := map[string]bool{}
			for _, f := range one {
				for _, r := range f.Records {
					ids[r[strings.LastIndex(r, ":")+1:]] = true
				}
			}
			if oneDecoded != len(ids) || fourDecoded != len(ids) {
				t.Errorf("decoded %d records with one worker, %d with four, for %d record ids", oneDecoded, fourDecoded, len(ids))
			}
		})
	}
}
