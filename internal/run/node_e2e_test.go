package run_test

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/run/trace"
	"github.com/drydockscan/drydock/internal/vulndb/updater"
)

// nodeDir is where the derived image holds the host's Node.js runtime.
const nodeDir = "/opt/drydock-node"

// nodeRuntime is the host's Node.js: its executable, the shared libraries
// it needs (soname -> host file) and the dynamic loader, as ldd lists them.
type nodeRuntime struct {
	bin    string
	libs   map[string]string
	loader string // the host's path of the loader; "" for a static node
	// builtins are the files of node's own library that a build keeps
	// outside its binary, at the paths compiled into it: Debian's node
	// reads acorn, cjs-module-lexer and undici from /usr/share/nodejs
	// (its NODE_SHARED_BUILTIN_*_PATH defines) and aborts without them.
	builtins []string
}

// hostNode finds the host's node (Debian's nodejs package, installed by
// .ci/run) and what it loads. Without one the test skips, unless
// DRYDOCK_REQUIRE_SANDBOX=1.
func hostNode(t *testing.T) *nodeRuntime {
	t.Helper()
	missing := func(why string) {
		if os.Getenv("DRYDOCK_REQUIRE_SANDBOX") == "1" {
			t.Fatalf("the Node.js runtime is required (DRYDOCK_REQUIRE_SANDBOX=1; Debian's nodejs package): %s", why)
		}
		t.Skipf("no Node.js runtime on this host (Debian's nodejs package): %s", why)
	}
	p, err := exec.LookPath("node")
	if err != nil {
		missing(err.Error())
	}
	bin, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("ldd"); err != nil {
		missing(err.Error())
	}
	out, err := exec.Command("ldd", bin).Output()
	if err != nil && !strings.Contains(string(out), "not a dynamic executable") {
		t.Fatalf("ldd %s: %v\n%s", bin, err, out)
	}
	rt := &nodeRuntime{bin: bin, libs: map[string]string{}}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		// "libX.so.1 => /lib/…/libX.so.1 (0x…)", "/lib64/ld-linux-x86-64.so.2 (0x…)",
		// "linux-vdso.so.1 (0x…)" (in the kernel, no file).
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "=>":
			if !strings.HasPrefix(f[2], "/") {
				t.Fatalf("ldd %s: %s", bin, sc.Text())
			}
			rt.libs[f[0]] = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			rt.loader = f[0]
		}
	}
	if len(rt.libs) > 0 && rt.loader == "" {
		t.Fatalf("ldd %s names no dynamic loader:\n%s", bin, out)
	}
	out, err = exec.Command(bin, "-p", "JSON.stringify(process.config.target_defaults.defines || [])").Output()
	if err != nil {
		t.Fatalf("%s: its build's defines: %v", bin, err)
	}
	var defines []string
	if err := json.Unmarshal(out, &defines); err != nil {
		t.Fatalf("%s: its build's defines %q: %v", bin, out, err)
	}
	for _, d := range defines {
		if k, v, ok := strings.Cut(d, "="); ok && strings.HasPrefix(k, "NODE_SHARED_BUILTIN_") && strings.HasSuffix(k, "_PATH") {
			rt.builtins = append(rt.builtins, v)
		}
	}
	return rt
}

// command is how the image runs node: through the host's loader with the
// host's libraries, so that it does not depend on the image's glibc.
func (rt *nodeRuntime) command(args ...string) []string {
	if rt.loader == "" {
		return append([]string{nodeDir + "/bin/node"}, args...)
	}
	return append([]string{nodeDir + "/lib/" + path.Base(rt.loader), "--library-path", nodeDir + "/lib", nodeDir + "/bin/node"}, args...)
}

// withNode writes an OCI layout of the image at ref plus one layer that
// holds the host's node under nodeDir/bin and its libraries and loader
// under nodeDir/lib, and returns the layout's directory.
func withNode(t *testing.T, ref string, rt *nodeRuntime) string {
	t.Helper()
	tmp := t.TempDir()
	layerFile := filepath.Join(tmp, "node-layer.tar")
	f, err := os.Create(layerFile)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range []string{"opt/", "opt/drydock-node/", "opt/drydock-node/bin/", "opt/drydock-node/lib/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime}); err != nil {
			t.Fatal(err)
		}
	}
	add := func(name, host string, mode int64) {
		src, err := os.Open(host)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		st, err := src.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(name, "/"), Typeflag: tar.TypeReg, Mode: mode, Size: st.Size(), ModTime: mtime}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, src); err != nil {
			t.Fatalf("%s: %v", host, err)
		}
	}
	add(nodeDir+"/bin/node", rt.bin, 0o755)
	names := make([]string, 0, len(rt.libs))
	for n := range rt.libs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		add(nodeDir+"/lib/"+n, rt.libs[n], 0o644)
	}
	if rt.loader != "" {
		add(nodeDir+"/lib/"+path.Base(rt.loader), rt.loader, 0o755)
	}
	// The builtins at their own paths, with their directories (the image
	// has no /usr/share/nodejs).
	dirs := map[string]bool{}
	for _, b := range rt.builtins {
		var parents []string
		for d := path.Dir(b); d != "/" && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			parents = append(parents, d)
		}
		slices.Reverse(parents)
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(d, "/") + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime}); err != nil {
				t.Fatal(err)
			}
		}
		host, err := filepath.EvalSymlinks(b)
		if err != nil {
			t.Fatalf("%s needs %s: %v", rt.bin, b, err)
		}
		add(b, host, 0o644)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromFile(layerFile, tarball.WithCompressionLevel(gzip.BestSpeed), tarball.WithCompressedCaching)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(openImage(t, ref).Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "oci")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return dir
}

// imageFile is the content of a regular file in the image's final file
// system (the last layer that holds it).
func imageFile(t *testing.T, ref, name string) []byte {
	t.Helper()
	var body []byte
	eachLayerEntry(t, ref, func(h *tar.Header, r io.Reader) {
		if path.Clean("/"+h.Name) == name && h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			body = b
		}
	})
	if body == nil {
		t.Fatalf("%s: no file %s", ref, name)
	}
	return body
}

// npmInstalled is TRUTH.json's npm_installed_package_json: every installed
// package root's package.json.
type npmInstalled struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Path    string `json:"path"`
}

func npmTruth(t *testing.T) []npmInstalled {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, "debian12-app", "TRUTH.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		NPM []npmInstalled `json:"npm_installed_package_json"`
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	if len(truth.NPM) == 0 {
		t.Fatal("TRUTH.json lists no installed npm package")
	}
	return truth.NPM
}

// npmUsed are the installed npm packages (by their package.json path) one
// of whose files the run opened: the innermost package directory holding
// the file, so that a package nested in another's node_modules counts for
// itself only.
func npmUsed(pkgs []npmInstalled, used map[string]bool) map[string]string {
	out := map[string]string{}
	for p := range used {
		best := ""
		for _, n := range pkgs {
			if d := path.Dir(n.Path); strings.HasPrefix(p, d+"/") && len(d) > len(path.Dir(best)) {
				best = n.Path
			}
		}
		if best != "" {
			if prev, ok := out[best]; !ok || p < prev {
				out[best] = p
			}
		}
	}
	return out
}

// requireRe finds the packages a script requires by name (not by a
// relative or absolute path).
var requireRe = regexp.MustCompile(`require\(\s*['"]([^'"./][^'"]*)['"]\s*\)`)

// importNPMRecords adds to the database at db one OSV record per installed
// npm package version, affecting exactly that version. The shared data has
// no npm feed, so without them no npm package would have a finding for
// the run to rank. They are test records, not advisories: their ids and
// summaries say so.
func importNPMRecords(t *testing.T, db string, pkgs []npmInstalled) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "npm-test-records")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		k := p.Name + "@" + p.Version
		if seen[k] {
			continue
		}
		seen[k] = true
		id := fmt.Sprintf("DRYDOCK-TEST-NPM-%d", len(seen))
		rec := map[string]any{
			"schema_version": "1.6.0",
			"id":             id,
			"modified":       "2026-01-01T00:00:00Z",
			"summary":        "test record affecting " + k + " (not an advisory)",
			"affected": []map[string]any{{
				"package":  map[string]string{"ecosystem": "npm", "name": p.Name},
				"versions": []string{p.Version},
			}},
		}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, id+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := updater.Import(context.Background(), db, dir, updater.Options{Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		err = res.Err()
	}
	if err != nil {
		t.Fatalf("import npm test records: %v", err)
	}
}

// nodeService runs debian12-app's Node.js application the way its
// package.json starts it ("main": "server.js", "start": "node
// server.js"), on the port the image exposes for its service, in the image
// plus a layer with the host's Node.js runtime (the image has none), and
// checks what the run marks in use against the image's facts: TRUTH.json's
// installed npm packages joined with the files node opened, dpkg's lists,
// and the requires of the application's own entry point.
func nodeService(t *testing.T, env map[string]string, db, ref string, facts *imageFacts) {
	rt := hostNode(t)
	const app = "/app/node"
	var manifest struct {
		Main    string            `json:"main"`
		Scripts map[string]string `json:"scripts"`
	}
	if err := json.Unmarshal(imageFile(t, ref, app+"/package.json"), &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.Main == "" || manifest.Scripts["start"] != "node "+manifest.Main {
		t.Fatalf("%s/package.json: main %q, start %q: not the entry point this test runs", app, manifest.Main, manifest.Scripts["start"])
	}
	entry := path.Join(app, manifest.Main)
	var required []string
	for _, m := range requireRe.FindAllStringSubmatch(string(imageFile(t, ref, entry)), -1) {
		required = append(required, m[1])
	}
	if len(required) == 0 {
		t.Fatalf("%s requires no package", entry)
	}
	port := 0
	for p := range truthConfig(t, "debian12-app").ExposedPorts {
		if n, proto, _ := strings.Cut(p, "/"); proto == "tcp" && n != "22" {
			port, _ = strconv.Atoi(n)
		}
	}
	if port == 0 {
		t.Fatal("the image exposes no service port")
	}

	img := withNode(t, ref, rt)
	cmd := rt.command(entry, "--port", strconv.Itoa(port))
	// The server does not exit: the run ends it at --duration. It listens
	// well within a second of its start, also under the tracer on a busy
	// machine; the run's report says whether it did.
	events, evs, runRep := recordRunReport(t, img, append([]string{"--duration", "5s", "--entrypoint", cmd[0], "--"}, cmd[1:]...)...)
	used := opened(evs)
	if !used[nodeDir+"/bin/node"] || !used[entry] {
		t.Fatalf("node did not load %s (exit %+v)\nstdout %s\nstderr %s", entry, runRep.Run.Exit, runRep.Output.Stdout, runRep.Output.Stderr)
	}
	listening := false
	for _, l := range runRep.Network.Listening {
		if l.Port == port && strings.HasPrefix(l.Proto, "tcp") {
			listening = true
			t.Logf("listening: %+v", l)
		}
	}
	if !listening || !runRep.Run.TimedOut {
		t.Fatalf("the service did not start: listening %+v, exit %+v, timed out %v\nstderr %s", runRep.Network.Listening, runRep.Run.Exit, runRep.Run.TimedOut, runRep.Output.Stderr)
	}
	for _, e := range evs {
		if e.Kind == trace.KindListen && e.Port == port && e.Result < 0 {
			t.Errorf("listen on %d refused: %+v", port, e)
		}
	}

	importNPMRecords(t, db, npmTruth(t))
	rep, _ := scanWithRun(t, env, img, events)

	truth := npmTruth(t)
	want := npmUsed(truth, used)
	for _, name := range required {
		pj := path.Join(app, "node_modules", name, "package.json")
		if _, ok := want[pj]; !ok {
			t.Errorf("%s requires %s, but the run opened no file of %s", entry, name, path.Dir(pj))
		}
	}
	if len(want) == 0 || len(want) == len(truth) {
		t.Fatalf("%d of %d npm packages used: the test proves nothing", len(want), len(truth))
	}
	installed := map[string]bool{}
	for _, n := range truth {
		installed[n.Path] = true
	}
	npmInUse, npmSeen := 0, 0
	for _, p := range rep.Packages {
		if p.Type != inventory.TypeNPM || !installed[p.Path] {
			continue
		}
		npmSeen++
		evidence, ok := want[p.Path]
		switch {
		case ok && !p.InUse:
			t.Errorf("npm %s %s (%s) not in use, though node opened %s", p.Name, p.Version, p.Path, evidence)
		case !ok && p.InUse:
			t.Errorf("npm %s %s (%s) in use, but node opened none of its files", p.Name, p.Version, p.Path)
		}
		if p.InUse {
			npmInUse++
		}
	}
	if npmSeen != len(truth) {
		t.Errorf("the scan found %d of TRUTH.json's %d installed npm packages", npmSeen, len(truth))
	}
	// The OS packages whose files node opened (its own libraries come
	// from the added layer, which no OS package owns), and no other.
	wantDeb := facts.ownersOfOpened(used)
	for _, p := range rep.Packages {
		if p.Type != inventory.TypeDeb {
			continue
		}
		if _, ok := wantDeb[p.Name]; ok != p.InUse {
			t.Errorf("deb %s: in use %v, node opened a file of it %v (%s)", p.Name, p.InUse, ok, wantDeb[p.Name])
		}
	}
	in, out := checkFindingsFollowPackages(t, rep)
	npmIn, npmOut := 0, 0
	for _, f := range rep.Vulnerabilities {
		if f.Package.Type != inventory.TypeNPM {
			continue
		}
		if f.InUse {
			npmIn++
		} else {
			npmOut++
		}
	}
	t.Logf("node %s: %d of %d npm packages in use, %d deb; findings: %d in use, %d not (npm: %d in use, %d not)",
		rt.bin, npmInUse, len(truth), len(wantDeb), in, out, npmIn, npmOut)
	// One test record per installed version: one finding per package.
	if npmIn != npmInUse || npmIn+npmOut != npmSeen {
		t.Errorf("npm findings: %d in use, %d not; want %d and %d, one per package", npmIn, npmOut, npmInUse, npmSeen-npmInUse)
	}
}
