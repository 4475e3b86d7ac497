package run_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/cli"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/run"
	"github.com/drydockscan/drydock/internal/run/runreport"
	"github.com/drydockscan/drydock/internal/run/trace"
	"github.com/drydockscan/drydock/internal/testutil/vulndbtest"
)

// drydockEnv runs the command line in-process with an environment.
func drydockEnv(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

// imageFacts is what the test reads from an image's layers itself (with
// go-containerregistry, not drydock's readers): each path's type in the
// final file system, dpkg's file lists, and the top-level import names
// of the Python distributions.
type imageFacts struct {
	types    map[string]byte     // path -> tar type flag
	lists    map[string][]string // deb package -> its files (/var/lib/dpkg/info/<pkg>[:arch].list)
	topLevel map[string][]string // python distribution dir (…/X.dist-info) -> the import names of its top_level.txt
}

func readImageFacts(t *testing.T, ref string) *imageFacts {
	t.Helper()
	f := &imageFacts{types: map[string]byte{}, lists: map[string][]string{}, topLevel: map[string][]string{}}
	eachLayerEntry(t, ref, func(h *tar.Header, tr io.Reader) {
		p := path.Clean("/" + h.Name)
		base := path.Base(p)
		if strings.HasPrefix(base, ".wh.") {
			delete(f.types, path.Join(path.Dir(p), strings.TrimPrefix(base, ".wh.")))
			return
		}
		f.types[p] = h.Typeflag
		switch {
		case path.Dir(p) == "/var/lib/dpkg/info" && strings.HasSuffix(p, ".list"):
			pkg, _, _ := strings.Cut(strings.TrimSuffix(base, ".list"), ":")
			f.lists[pkg] = readLines(t, tr)
		case base == "top_level.txt" && strings.HasPrefix(p, "/usr/lib/python3/dist-packages/"):
			f.topLevel[path.Dir(p)] = readLines(t, tr)
		}
	})
	if len(f.lists) == 0 || len(f.topLevel) == 0 {
		t.Fatalf("%s: no dpkg lists (%d) or python top_level.txt (%d) in the layers", ref, len(f.lists), len(f.topLevel))
	}
	return f
}

// eachLayerEntry calls fn with every tar entry of the image's layers, in
// layer order; fn may read the entry's content from r.
func eachLayerEntry(t *testing.T, ref string, fn func(h *tar.Header, r io.Reader)) {
	t.Helper()
	layers, err := openImage(t, ref).Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			fn(h, tr)
		}
		rc.Close()
	}
}

func readLines(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// merged is a path in its /usr-merged form: on Debian 12, /bin, /sbin and
// /lib are symbolic links into /usr.
func merged(p string) string {
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib64"} {
		if p == d || strings.HasPrefix(p, d+"/") {
			return "/usr" + p
		}
	}
	return p
}

// notDir says whether p is in the image and not a directory (a file or a
// symbolic link, which a program opens to reach its target), in either of
// its /usr-merged spellings.
func (f *imageFacts) notDir(p string) bool {
	for _, q := range []string{p, merged(p), strings.TrimPrefix(merged(p), "/usr")} {
		if t, ok := f.types[q]; ok && t != tar.TypeDir {
			return true
		}
	}
	return false
}

// opened are the paths the run opened for reading or executing, or
// executed, successfully: and for a bytecode cache file
// (DIR/__pycache__/NAME.TAG.pyc, PEP 3147), its source DIR/NAME.py.
func opened(evs []trace.Event) map[string]bool {
	out := map[string]bool{}
	for _, e := range evs {
		if e.Path == "" || e.Result < 0 {
			continue
		}
		if e.Kind == trace.KindExec || e.Kind == trace.KindOpen && (strings.Contains(e.Access, "read") || e.Access == "exec") {
			out[e.Path] = true
			dir, file := path.Split(e.Path)
			if path.Base(dir) == "__pycache__" && strings.HasSuffix(file, ".pyc") {
				name, _, _ := strings.Cut(file, ".")
				out[path.Join(path.Dir(path.Clean(dir)), name+".py")] = true
			}
		}
	}
	return out
}

// ownersOfOpened are the deb packages whose lists hold a file (not a
// directory) the run opened.
func (f *imageFacts) ownersOfOpened(used map[string]bool) map[string]string {
	want := map[string]string{}
	for pkg, files := range f.lists {
		for _, file := range files {
			if !f.notDir(file) {
				continue
			}
			if used[file] || used[merged(file)] || used[strings.TrimPrefix(merged(file), "/usr")] {
				want[pkg] = file
				break
			}
		}
	}
	return want
}

// pythonUsed are the Python distributions (by their metadata directory)
// one of whose top-level modules had a file opened.
func (f *imageFacts) pythonUsed(used map[string]bool) map[string]bool {
	out := map[string]bool{}
	for meta, names := range f.topLevel {
		for _, n := range names {
			dir := path.Join(path.Dir(meta), n)
			for p := range used {
				if strings.HasPrefix(p, dir+"/") || p == dir+".py" {
					out[meta] = true
				}
			}
		}
	}
	return out
}

// recordRun runs debian12-app with drydock run and returns its events file
// and events.
func recordRun(t *testing.T, img string, args ...string) (string, []trace.Event) {
	t.Helper()
	file, evs, _ := recordRunReport(t, img, args...)
	return file, evs
}

// recordRunReport is recordRun that also returns the run report.
func recordRunReport(t *testing.T, img string, args ...string) (string, []trace.Event, *runreport.Report) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "events.jsonl")
	repFile := filepath.Join(t.TempDir(), "run.json")
	all := append([]string{"run", img, "--events", file, "-o", "json=" + repFile}, args...)
	if code, out, errOut := drydock(t, all...); code != 0 {
		t.Fatalf("drydock run: exit %d\n%s\n%s", code, out, errOut)
	}
	b, err := os.ReadFile(repFile)
	if err != nil {
		t.Fatal(err)
	}
	var rep runreport.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("run report %s: %v", repFile, err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, err := run.LoadEvents(f)
	if err != nil {
		t.Fatal(err)
	}
	return file, evs, &rep
}

// scanWithRun scans img with --runtime-events and returns the JSON report.
func scanWithRun(t *testing.T, env map[string]string, img, events string, args ...string) (*report.Report, int) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	all := append([]string{"image", img, "--runtime-events", events, "-o", "json=" + out}, args...)
	code, _, errOut := drydockEnv(t, env, all...)
	if code != 0 && code != cli.ExitPolicy {
		t.Fatalf("drydock image: exit %d\n%s", code, errOut)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Runtime == nil || rep.Runtime.Events != events {
		t.Fatalf("the report has no runtime section for %s: %+v", events, rep.Runtime)
	}
	return &rep, code
}

func pkgKey(typ, name, version, p string) string { return report.InUseKey(typ, name, version, p) }

// checkFindingsFollowPackages: a finding is in use exactly when its
// package is; the report holds findings of both kinds.
func checkFindingsFollowPackages(t *testing.T, rep *report.Report) (inUse, notInUse int) {
	t.Helper()
	used := map[string]bool{}
	for _, p := range rep.Packages {
		used[pkgKey(p.Type, p.Name, p.Version, p.Path)] = p.InUse
	}
	for _, f := range rep.Vulnerabilities {
		k := pkgKey(f.Package.Type, f.Package.Name, f.Package.Version, f.Package.Path)
		if f.InUse != used[k] {
			t.Errorf("%s in %s %s: in_use %v, its package %v", f.ID, f.Package.Name, f.Package.Version, f.InUse, used[k])
		}
		if f.InUse {
			inUse++
		} else {
			notInUse++
		}
	}
	return inUse, notInUse
}

// TestRuntimeEventsRankFindings records real runs of debian12-app with
// drydock run --events and applies them to a scan of the same image with
// drydock image --runtime-events: the Go service marks the modules of its
// binary, a command marks the OS packages and Python modules whose files
// it opened, the Node.js service (started with the host's node added in a
// layer) marks the npm packages it loaded; findings follow their packages;
// --only-in-use shows only those, and the gate counts what is shown. Every
// expectation comes from the image's own files (dpkg's lists, the tar
// entries' types, Python's top_level.txt, TRUTH.json's Go build info and
// installed npm packages) and the events.
func TestRuntimeEventsRankFindings(t *testing.T) {
	needSandbox(t)
	ref := filepath.Join(corpus, "debian12-app/oci")
	corpusImage(t, "debian12-app/oci")
	facts := readImageFacts(t, ref)
	tmp := t.TempDir()
	db := filepath.Join(tmp, "drydock.db")
	if err := vulndbtest.Import(context.Background(), db, vulndbtest.Dir(t), tmp); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DRYDOCK_DB_PATH": db, "DRYDOCK_OFFLINE": "true"}

	t.Run("the Go service", func(t *testing.T) {
		// The service starts at once; its first seconds are enough.
		events, evs := recordRun(t, ref, "--duration", "3s")
		rep, _ := scanWithRun(t, env, ref, events)
		var truth struct {
			GoBinaries []struct {
				Path       string                  `json:"path"`
				GoVersion  string                  `json:"go_version"`
				MainModule struct{ Path string }   `json:"main_module"`
				Deps       []struct{ Path string } `json:"deps"`
			} `json:"go_binaries"`
		}
		b, err := os.ReadFile(filepath.Join(corpus, "debian12-app", "TRUTH.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &truth); err != nil {
			t.Fatal(err)
		}
		if len(truth.GoBinaries) != 1 || !opened(evs)[truth.GoBinaries[0].Path] {
			t.Fatalf("the run did not execute the image's Go binary: %+v", truth.GoBinaries)
		}
		bin := truth.GoBinaries[0]
		wantGo := []string{bin.MainModule.Path, "stdlib"}
		for _, d := range bin.Deps {
			wantGo = append(wantGo, d.Path)
		}
		inUse := map[string]inventory.Package{}
		for _, p := range rep.Packages {
			if p.InUse {
				inUse[p.Type+":"+p.Name] = p
			}
		}
		for _, m := range wantGo {
			p, ok := inUse[inventory.TypeGo+":"+m]
			if !ok || p.Path != bin.Path {
				t.Errorf("Go module %s of %s not in use (%+v)", m, bin.Path, p)
			}
		}
		// The OS packages whose files the service opened (none for a
		// static binary that reads only its configuration and /proc),
		// and no other.
		wantDeb := facts.ownersOfOpened(opened(evs))
		for k, p := range inUse {
			if p.Type == inventory.TypeDeb {
				if _, ok := wantDeb[p.Name]; !ok {
					t.Errorf("%s in use, but the service opened none of its files", k)
				}
			}
		}
		for pkg, file := range wantDeb {
			if _, ok := inUse[inventory.TypeDeb+":"+pkg]; !ok {
				t.Errorf("deb %s not in use, though the service opened %s", pkg, file)
			}
		}
		in, out := checkFindingsFollowPackages(t, rep)
		t.Logf("%d packages in use (%d deb), %d findings in use, %d not", len(inUse), len(wantDeb), in, out)
		if in == 0 || out == 0 {
			t.Fatalf("findings in use %d, not in use %d: the ranking is not shown", in, out)
		}

		// --only-in-use shows only those; the gate counts what is shown
		// (vulnerabilities only here: the other kinds are not ranked by
		// the run).
		only, code := scanWithRun(t, env, ref, events, "--only-in-use", "--fail-on", "UNKNOWN", "--scanners", "vuln")
		if len(only.Vulnerabilities) != in || only.Runtime.Hidden != out || !only.Runtime.OnlyInUse {
			t.Errorf("--only-in-use: %d findings shown, %d hidden; want %d and %d", len(only.Vulnerabilities), only.Runtime.Hidden, in, out)
		}
		failing := 0
		for _, f := range only.Vulnerabilities {
			if !f.InUse {
				t.Errorf("--only-in-use shows %s, not in use", f.ID)
			}
			if f.Suppression == nil && f.Severity.Rank() >= finding.Unknown.Rank() {
				failing++
			}
		}
		if only.Gate == nil || only.Gate.Failing != failing || code != cli.ExitPolicy {
			t.Errorf("gate %+v (exit %d), want %d failing findings, the shown ones", only.Gate, code, failing)
		}
	})

	t.Run("a command using OS and Python packages", func(t *testing.T) {
		events, evs := recordRun(t, ref, "--duration", "60s", "--entrypoint", "/bin/sh", "--",
			"-c", `python3 -c "import yaml, requests" && curl --version >/dev/null`)
		rep, _ := scanWithRun(t, env, ref, events)
		used := opened(evs)
		inUse := map[string]inventory.Package{}
		for _, p := range rep.Packages {
			if p.InUse {
				inUse[p.Type+":"+p.Name] = p
			}
		}
		wantDeb := facts.ownersOfOpened(used)
		for _, must := range []string{"libc6", "curl", "python3.11-minimal"} {
			if _, ok := wantDeb[must]; !ok {
				t.Fatalf("the command opened no file of %s: the test proves nothing about it (%d owners)", must, len(wantDeb))
			}
		}
		for pkg, file := range wantDeb {
			if _, ok := inUse[inventory.TypeDeb+":"+pkg]; !ok {
				t.Errorf("deb %s not in use, though the command opened %s", pkg, file)
			}
		}
		// Python distributions whose modules were opened: in use, and so
		// is the OS package that installed each.
		wantPy := facts.pythonUsed(used)
		if len(wantPy) < 2 {
			t.Fatalf("only %d Python distributions used: %v", len(wantPy), wantPy)
		}
		owners := map[string]bool{}
		for _, p := range rep.Packages {
			if p.Type != inventory.TypePyPI || !wantPy[strings.TrimSuffix(p.Path, "/")] && !wantPy[path.Dir(p.Path)] {
				continue
			}
			if !p.InUse {
				t.Errorf("pypi %s not in use, though its modules were opened", p.Name)
			}
			if p.OwnedBy != "" {
				owners[strings.TrimPrefix(p.OwnedBy, "deb:")] = true
			}
		}
		for o := range owners {
			if _, ok := inUse[inventory.TypeDeb+":"+o]; !ok {
				t.Errorf("deb %s installed a Python package in use, but is not in use", o)
			}
		}
		// No deb is in use without a reason: a file of its own opened, or
		// a Python package of its own in use.
		for k, p := range inUse {
			if p.Type != inventory.TypeDeb {
				continue
			}
			if _, ok := wantDeb[p.Name]; !ok && !owners[p.Name] {
				t.Errorf("%s in use, but the command used none of its files", k)
			}
		}
		// Each package in use says why.
		for _, u := range rep.Runtime.Packages {
			if u.Evidence == "" || !slices.Contains([]string{run.HowOwnedFile, run.HowBinary, run.HowModuleDir, run.HowOwner, run.HowOwnedPackage}, u.How) {
				t.Errorf("%s: evidence %q, how %q", u.Name, u.Evidence, u.How)
			}
		}
		in, out := checkFindingsFollowPackages(t, rep)
		t.Logf("%d packages in use (%d deb, %d python), %d findings in use, %d not", len(inUse), len(wantDeb), len(wantPy), in, out)
		if in == 0 {
			t.Errorf("no finding in a package in use")
		}
	})

	t.Run("the Node.js service", func(t *testing.T) { nodeService(t, env, db, ref, facts) })
}
