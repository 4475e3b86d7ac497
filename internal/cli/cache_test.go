package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/cli"
)

// helperArgsEnv carries the arguments of a child process that runs the
// CLI (TestMain).
const helperArgsEnv = "DRYDOCK_TEST_CLI_ARGS"

// helperCommand returns a command running the CLI with args in a new
// process (this test binary), with baseEnv and env.
func helperCommand(t *testing.T, env map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	b, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperArgsEnv+"="+string(b))
	for k, v := range baseEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// reportFormats are the formats whose bytes a cached scan must reproduce.
var reportFormats = []string{"json", "table", "sarif", "cyclonedx", "cyclonedx-vex", "spdx-json", "csv", "html", "junit", "gitlab"}

func outputArgs(dir string) []string {
	var args []string
	for _, f := range reportFormats {
		args = append(args, "-o", f+"="+filepath.Join(dir, f))
	}
	return args
}

// htmlCacheFields are the JSON report's cache fields as the HTML page
// embeds them.
var htmlCacheFields = regexp.MustCompile(`,"cached":true|,"cache":\{"hits":\d+,"misses":\d+\}`)

// withoutCacheFields decodes a JSON report and removes the fields that say
// what came from the layer cache, returning them apart.
func withoutCacheFields(t *testing.T, b []byte) (rest map[string]any, cached []bool, stats map[string]any) {
	t.Helper()
	if err := json.Unmarshal(b, &rest); err != nil {
		t.Fatal(err)
	}
	for _, l := range rest["target"].(map[string]any)["layers"].([]any) {
		lm := l.(map[string]any)
		c, _ := lm["cached"].(bool)
		cached = append(cached, c)
		delete(lm, "cached")
	}
	if s, ok := rest["scan"].(map[string]any); ok {
		stats, _ = s["cache"].(map[string]any)
		delete(s, "cache")
	}
	return rest, cached, stats
}

// TestCacheProcesses starts eight drydock processes at once that scan the
// same image into one empty cache directory, then scans once more from
// the filled cache. Every report of every format equals the report of a
// scan without a cache, byte for byte, except the JSON fields that say
// what came from the cache.
func TestCacheProcesses(t *testing.T) {
	img := corpusImage(t, "debian12-app")
	// The child processes read the variable from their environment, and
	// so do some report writers in this one.
	env := map[string]string{"SOURCE_DATE_EPOCH": "1767225600"}
	t.Setenv("SOURCE_DATE_EPOCH", env["SOURCE_DATE_EPOCH"])
	root := t.TempDir()
	cacheDir := filepath.Join(root, "cache")

	refDir := filepath.Join(root, "ref")
	os.Mkdir(refDir, 0o755)
	if code, _, errOut := run(t, env, append([]string{"image", img, "-q", "--no-cache", "--cache-backend", "fs", "--cache-dir", cacheDir}, outputArgs(refDir)...)...); code != 0 {
		t.Fatalf("uncached scan: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(cacheDir); err == nil {
		t.Fatal("--no-cache created the cache directory")
	}

	const procs = 8
	var cmds []*exec.Cmd
	var stderrs []*bytes.Buffer
	var dirs []string
	for i := range procs {
		dir := filepath.Join(root, fmt.Sprintf("proc%d", i))
		os.Mkdir(dir, 0o755)
		cmd := helperCommand(t, env, append([]string{"image", img, "-q", "--cache-backend", "fs", "--cache-dir", cacheDir}, outputArgs(dir)...)...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		cmds, stderrs, dirs = append(cmds, cmd), append(stderrs, &errb), append(dirs, dir)
	}
	for _, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v: %s", i, err, stderrs[i])
		}
	}
	warmDir := filepath.Join(root, "warm")
	os.Mkdir(warmDir, 0o755)
	if code, _, errOut := run(t, env, append([]string{"image", img, "-q", "--cache-backend", "fs", "--cache-dir", cacheDir}, outputArgs(warmDir)...)...); code != 0 {
		t.Fatalf("warm scan: exit %d: %s", code, errOut)
	}

	ref := map[string][]byte{}
	for _, f := range reportFormats {
		b, err := os.ReadFile(filepath.Join(refDir, f))
		if err != nil {
			t.Fatal(err)
		}
		ref[f] = b
	}
	refJSON, refCached, refStats := withoutCacheFields(t, ref["json"])
	layers := len(refCached)
	if layers == 0 || refStats != nil || strings.Contains(string(ref["json"]), `"cached"`) {
		t.Fatalf("the uncached report has cache fields or no layers: %d layers, stats %v", layers, refStats)
	}
	for _, dir := range append(dirs, warmDir) {
		name := filepath.Base(dir)
		for _, f := range reportFormats {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if f == "html" {
				// The page embeds the JSON report as its data.
				b = htmlCacheFields.ReplaceAll(b, nil)
			}
			if f != "json" {
				if !bytes.Equal(b, ref[f]) {
					t.Errorf("%s: %s report differs from the uncached scan's", name, f)
				}
				continue
			}
			rest, cached, stats := withoutCacheFields(t, b)
			if !reflect.DeepEqual(rest, refJSON) {
				t.Errorf("%s: JSON report differs from the uncached scan's beyond the cache fields", name)
			}
			hits, misses := int(stats["hits"].(float64)), int(stats["misses"].(float64))
			n := 0
			for _, c := range cached {
				if c {
					n++
				}
			}
			if hits+misses != layers || n != hits {
				t.Errorf("%s: scan.cache %v and %d layers marked cached, for %d layers", name, stats, n, layers)
			}
			if name == "warm" && hits != layers {
				t.Errorf("warm scan: %d hits, want %d", hits, layers)
			}
		}
	}

	code, out, errOut := run(t, nil, "cache", "status", "--cache-backend", "fs", "--cache-dir", cacheDir, "--json")
	if code != 0 {
		t.Fatalf("cache status: exit %d: %s", code, errOut)
	}
	var st struct {
		Entries int
		Bytes   int64
		Recent  struct{ Scans, Hits, Misses int }
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("cache status --json: %v\n%s", err, out)
	}
	// One entry per layer, and one for the image's merge.
	if st.Entries != layers+1 || st.Bytes <= 0 || st.Recent.Scans != procs+1 || st.Recent.Hits+st.Recent.Misses != (procs+1)*layers || st.Recent.Hits < layers {
		t.Errorf("cache status: %+v, want %d entries and %d scans", st, layers+1, procs+1)
	}
}

// TestCacheCommands runs status, prune and clean on a filled cache.
func TestCacheCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layers")
	img := corpusImage(t, "edge-layers")
	if code, _, errOut := run(t, nil, "image", img, "--scanners", "none", "-q", "--cache-backend", "fs", "--cache-dir", dir); code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	code, out, errOut := run(t, nil, "cache", "status", "--cache-backend", "fs", "--cache-dir", dir)
	if code != 0 || !strings.Contains(out, "entries:") || !strings.Contains(out, img) {
		t.Errorf("status: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = run(t, nil, "cache", "prune", "--cache-backend", "fs", "--cache-dir", dir, "--max-age", "30d", "--max-size", "2GB")
	if code != 0 || !strings.HasPrefix(out, "removed 0 entries") {
		t.Errorf("prune of a fresh small cache: exit %d: %s", code, out)
	}
	code, out, _ = run(t, nil, "cache", "prune", "--cache-backend", "fs", "--cache-dir", dir, "--max-size", "1B")
	if code != 0 || strings.HasPrefix(out, "removed 0 ") || !strings.Contains(out, "; 0 entries") {
		t.Errorf("prune to one byte: exit %d: %s", code, out)
	}
	run(t, nil, "image", img, "--scanners", "none", "-q", "--cache-backend", "fs", "--cache-dir", dir)
	code, out, _ = run(t, nil, "cache", "clean", "--cache-backend", "fs", "--cache-dir", dir)
	if code != 0 || strings.HasPrefix(out, "removed 0 ") {
		t.Errorf("clean: exit %d: %s", code, out)
	}
	for _, args := range [][]string{
		{"cache", "prune", "--cache-backend", "fs", "--cache-dir", dir},
		{"cache", "prune", "--cache-backend", "fs", "--cache-dir", dir, "--max-size", "lots"},
		{"cache", "prune", "--cache-backend", "fs", "--cache-dir", dir, "--max-age", "-3d"},
		{"cache", "status", "--cache-backend", "none"},
		{"image", img, "--cache-backend", "memcached"},
		{"image", img, "--cache-backend", "redis"},
	} {
		if code, _, _ := run(t, nil, args...); code != cli.ExitError {
			t.Errorf("%v: exit %d, want %d", args, code, cli.ExitError)
		}
	}
}
