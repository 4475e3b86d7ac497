package run_test

import (
	"bytes"
	"context"
	"errors"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/run"
	"github.com/drydockscan/drydock/internal/run/trace"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
)

func debianInventory(t *testing.T) *inventory.Inventory {
	t.Helper()
	img, err := source.Open(context.Background(), filepath.Join(corpus, "debian12-app/oci"), source.Options{})
	if err != nil {
		t.Skipf("corpus: %v", err)
	}
	defer img.Close()
	res, err := scan.Image(context.Background(), img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage)})
	if err != nil {
		t.Fatal(err)
	}
	return &res.Inventory
}

func key(p inventory.Package) string { return p.Type + "/" + p.Name + "@" + p.Version + " " + p.Path }

// TestPackagesInUse joins events with the debian12-app inventory; every
// expectation is derived from the inventory itself.
func TestPackagesInUse(t *testing.T) {
	inv := debianInventory(t)
	var goBin string
	var bashFile, sslFile string
	var bash, ssl, pyyamlDeb *inventory.Package
	for i := range inv.Packages {
		p := &inv.Packages[i]
		switch {
		case p.Type == inventory.TypeGo && goBin == "":
			goBin = p.Path
		case p.Type == inventory.TypeDeb && p.Name == "bash":
			bash = p
		case p.Type == inventory.TypeDeb && p.Name == "libssl3":
			ssl = p
		case p.Type == inventory.TypeDeb && p.Name == "python3-yaml":
			pyyamlDeb = p
		}
	}
	var requestsDeb, chardetDeb, sixDeb *inventory.Package
	for i := range inv.Packages {
		p := &inv.Packages[i]
		switch {
		case p.Type == inventory.TypeDeb && p.Name == "python3-requests":
			requestsDeb = p
		case p.Type == inventory.TypeDeb && p.Name == "python3-chardet":
			chardetDeb = p
		case p.Type == inventory.TypeDeb && p.Name == "python3-six":
			sixDeb = p
		}
	}
	if goBin == "" || bash == nil || ssl == nil || pyyamlDeb == nil || requestsDeb == nil || chardetDeb == nil || sixDeb == nil {
		t.Fatalf("inventory lacks what the test joins with (go binary %q, bash, libssl3, python3-yaml, python3-requests, python3-chardet)", goBin)
	}
	// bash as dpkg records it (/bin/bash) and as the loader names it
	// (/usr/bin/bash): the /usr merge must join them.
	for _, f := range bash.Files {
		if strings.HasPrefix(f, "/bin/") {
			bashFile = f
		}
	}
	for _, f := range ssl.Files {
		if strings.Contains(f, "libssl.so") {
			sslFile = f
		}
	}
	var yamlInit string
	for _, f := range pyyamlDeb.Files {
		if strings.HasSuffix(f, "/yaml/__init__.py") {
			yamlInit = f
		}
	}
	// requests' __init__.py as Python opens it: its bytecode cache.
	var requestsPyc, chardetDir, sharedDir, sixPyc string
	for _, f := range sixDeb.Files {
		if strings.HasSuffix(f, "/six.py") {
			// six is one module, not a directory: its cache file.
			sixPyc = path.Join(path.Dir(f), "__pycache__", "six.cpython-311.pyc")
		}
	}
	for _, f := range requestsDeb.Files {
		if strings.HasSuffix(f, "/requests/__init__.py") {
			requestsPyc = path.Join(path.Dir(f), "__pycache__", "__init__.cpython-311.pyc")
		}
	}
	for _, f := range chardetDeb.Files {
		if strings.HasSuffix(f, "/chardet/__init__.py") {
			chardetDir = path.Dir(f)
			sharedDir = path.Dir(chardetDir)
		}
	}
	if bashFile == "" || sslFile == "" || yamlInit == "" || requestsPyc == "" || chardetDir == "" || sixPyc == "" {
		t.Fatalf("files not found: bash %q ssl %q yaml %q requests %q chardet %q six %q", bashFile, sslFile, yamlInit, requestsPyc, chardetDir, sixPyc)
	}
	// The directory that holds chardet's is listed by many packages.
	listedBy := 0
	for _, p := range inv.Packages {
		if slices.Contains(p.Files, sharedDir) {
			listedBy++
		}
	}
	if listedBy < 2 {
		t.Fatalf("%s is listed by %d packages: the directory case proves nothing", sharedDir, listedBy)
	}
	express := "/app/node/node_modules/express/lib/express.js"
	now := time.Now()
	events := []trace.Event{
		{Time: now, Kind: trace.KindExec, PID: 1, Path: goBin, Argv: []string{goBin}},
		{Time: now, Kind: trace.KindExec, PID: 2, Path: "/usr" + bashFile, Argv: []string{"bash"}},
		{Time: now, Kind: trace.KindOpen, PID: 2, Path: sslFile, Access: trace.AccessRead, Result: 3},
		{Time: now, Kind: trace.KindOpen, PID: 3, Path: express, Access: trace.AccessRead, Result: 3},
		{Time: now, Kind: trace.KindOpen, PID: 4, Path: yamlInit, Access: trace.AccessRead, Result: 3},
		{Time: now, Kind: trace.KindOpen, PID: 4, Path: requestsPyc, Access: trace.AccessRead, Result: 3},
		{Time: now, Kind: trace.KindOpen, PID: 4, Path: sixPyc, Access: trace.AccessRead, Result: 3},
		// A file in chardet's module directory that python3-chardet does
		// not list (no source of its name): the module is in use, and so
		// is the OS package that installed it.
		{Time: now, Kind: trace.KindOpen, PID: 4, Path: chardetDir + "/__pycache__/generated.cpython-311.pyc", Access: trace.AccessRead, Result: 3},
		// Listing a directory many packages list uses none of them.
		{Time: now, Kind: trace.KindOpen, PID: 4, Path: sharedDir, Access: trace.AccessRead, Result: 3},
		// Neither a refused open nor a write shows use.
		{Time: now, Kind: trace.KindOpen, PID: 3, Path: "/app/node/node_modules/lodash/lodash.js", Access: trace.AccessRead, Result: -13},
		{Time: now, Kind: trace.KindOpen, PID: 3, Path: "/app/node/node_modules/minimist/index.js", Access: trace.AccessWrite, Result: 3},
	}
	got := run.PackagesInUse(events, inv, run.InUseOptions{})
	have := map[string]run.InUse{}
	for _, u := range got {
		have[u.Type+"/"+u.Name+"@"+u.Version+" "+u.Path] = u
	}
	// What must be in use, from the inventory.
	want := map[string]string{}
	for _, p := range inv.Packages {
		switch {
		case p.Type == inventory.TypeGo && p.Path == goBin:
			want[key(p)] = "binary"
		case p.Type == inventory.TypeDeb && (p.Name == "bash" || p.Name == "libssl3" || p.Name == "python3-yaml" || p.Name == "python3-requests" || p.Name == "python3-six"):
			want[key(p)] = run.HowOwnedFile
		case p.Type == inventory.TypeDeb && p.Name == "python3-chardet":
			want[key(p)] = run.HowOwnedPackage
		case p.Type == inventory.TypePyPI && (p.OwnedBy == "deb:python3-requests" || p.OwnedBy == "deb:python3-chardet" || p.OwnedBy == "deb:python3-six"):
			want[key(p)] = run.HowModuleDir
		case p.Type == inventory.TypeNPM && p.Name == "express":
			want[key(p)] = "module-dir"
		case p.Type == inventory.TypePyPI && p.OwnedBy == "deb:python3-yaml":
			want[key(p)] = "any"
		}
	}
	for k, how := range want {
		u, ok := have[k]
		if !ok {
			t.Errorf("%s: not in use", k)
			continue
		}
		if how != "any" && u.How != how {
			t.Errorf("%s: joined by %s, want %s", k, u.How, how)
		}
		if u.Evidence == "" {
			t.Errorf("%s: no evidence", k)
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: in use, but nothing the run did belongs to it", k)
		}
	}
	if len(want) < 5 {
		t.Fatalf("only %d expectations", len(want))
	}
	// Sorted like the inventory.
	if !slices.IsSortedFunc(got, func(a, b run.InUse) int {
		return inventory.ComparePackages(inventory.Package{Type: a.Type, Name: a.Name, Version: a.Version, Path: a.Path}, inventory.Package{Type: b.Type, Name: b.Name, Version: b.Version, Path: b.Path})
	}) {
		t.Error("not sorted")
	}
}

// TestEventsRoundTrip writes events as drydock run --events does and
// reads them back; bad files fail naming the line.
func TestEventsRoundTrip(t *testing.T) {
	evs := []trace.Event{
		{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Kind: trace.KindExec, PID: 1, Path: "/bin/sh", Argv: []string{"sh", "-c", "x\ny"}, Stdin: "null"},
		{Time: time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC), Kind: trace.KindOpen, PID: 1, Path: "/etc/passwd", Access: "write", Result: -13},
		{Time: time.Date(2026, 1, 1, 0, 0, 2, 0, time.UTC), Kind: trace.KindConnect, PID: 2, Proto: "tcp", Addr: "192.0.2.1", Port: 4444, Result: -111},
	}
	var b bytes.Buffer
	if err := run.WriteEvents(&b, evs); err != nil {
		t.Fatal(err)
	}
	back, err := run.LoadEvents(strings.NewReader("\n" + b.String() + "\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(evs) {
		t.Fatalf("read %d events, wrote %d", len(back), len(evs))
	}
	for i := range evs {
		if !back[i].Time.Equal(evs[i].Time) || back[i].Path != evs[i].Path || back[i].Result != evs[i].Result || !slices.Equal(back[i].Argv, evs[i].Argv) {
			t.Errorf("event %d: %+v, wrote %+v", i, back[i], evs[i])
		}
	}
	bad := []struct{ in, want string }{
		{`{"kind":"exec"}` + "\n" + `{"kind":`, "line 2"},
		{`{"kind":"exec","bogus":1}`, "line 1"},
		{`{"time":"2026-01-01T00:00:00Z"}`, "without a kind"},
		{`{"kind":"exec"} {"kind":"open"}`, "more than one"},
		{strings.Repeat("x", run.MaxEventLine+10), "longer than"},
	}
	for _, c := range bad {
		_, err := run.LoadEvents(strings.NewReader(c.in))
		if !errors.Is(err, run.ErrEvents) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.40q: got %v, want %q", c.in, err, c.want)
		}
	}
}

// FuzzLoadEvents: an events file is untrusted input.
func FuzzLoadEvents(f *testing.F) {
	f.Add([]byte(`{"time":"2026-01-01T00:00:00Z","kind":"exec","pid":1,"uid":0,"argv":["sh"],"result":0}` + "\n"))
	f.Add([]byte("\n\n{\"kind\":\"open\",\"path\":\"/x\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := run.LoadEvents(bytes.NewReader(b))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := run.WriteEvents(&out, evs); err != nil {
			t.Fatal(err)
		}
		back, err := run.LoadEvents(&out)
		if err != nil || len(back) != len(evs) {
			t.Fatalf("round trip: %v, %d != %d", err, len(back), len(evs))
		}
	})
}
