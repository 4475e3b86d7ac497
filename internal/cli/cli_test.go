package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/cli"
	it "github.com/drydockscan/drydock/internal/testutil/imagetest"
)

// run executes the CLI in-process with the given environment, on top of
// baseEnv (the test database, offline).
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return baseEnv[k]
	}
	code = cli.Run(context.Background(), args, cli.Env{Stdout: &out, Stderr: &errb, Getenv: getenv})
	return code, out.String(), errb.String()
}

func corpusImage(t *testing.T, name string) string {
	return filepath.Join(analyzetest.Corpus(t), name, "oci")
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "drydock ") {
		t.Errorf("version: code %d, output %q", code, out)
	}
}

func TestScanTable(t *testing.T) {
	code, out, errOut := run(t, nil, "image", corpusImage(t, "edge-layers"), "--scanners", "none")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"busybox-static", "1:1.37.0-6+b9", "Debian GNU/Linux 13 (trixie)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "netbase") {
		t.Errorf("table lists netbase, which a later layer removed:\n%s", out)
	}
}

// TestSeveralOutputs writes several reports from one scan, to files and
// stdout, and checks a second run gives byte-identical files.
func TestSeveralOutputs(t *testing.T) {
	dir := t.TempDir()
	img := corpusImage(t, "debian12-app")
	files := map[string]string{}
	var args []string
	for _, f := range []string{"json", "sarif", "cyclonedx", "spdx-json", "gitlab"} {
		files[f] = filepath.Join(dir, f+".json")
		args = append(args, "-o", f+"="+files[f])
	}
	first := map[string][]byte{}
	for round := 0; round < 2; round++ {
		code, out, errOut := run(t, map[string]string{"SOURCE_DATE_EPOCH": "1767225600"}, append([]string{"image", img, "-o", "table", "-q"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "VULNERABILITY") {
			t.Errorf("no table on stdout: %q", out)
		}
		if errOut != "" {
			t.Errorf("--quiet printed to stderr: %q", errOut)
		}
		for f, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(b) {
				t.Errorf("%s: not JSON", f)
			}
			if round == 0 {
				first[f] = b
			} else if !bytes.Equal(first[f], b) {
				t.Errorf("%s: second scan differs from the first", f)
			}
		}
	}
}

func TestExitCodes(t *testing.T) {
	hostile := it.Layout(t, []it.Layer{it.GzipLayer(t, it.File("../../etc/passwd", "x"))}, nil)
	tests := []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"clean scan", []string{"image", corpusImage(t, "edge-layers")}, 0, ""},
		{"unknown format", []string{"image", corpusImage(t, "edge-layers"), "-o", "yaml"}, 2, `unknown output format "yaml"`},
		{"missing file", []string{"image", "./no/such/image.tar"}, 2, "no such image"},
		{"hostile image", []string{"image", hostile}, 2, "layer 0"},
		{"unreachable registry", []string{"image", "registry:127.0.0.1:1/app:1"}, 2, "127.0.0.1:1"},
		{"bad platform", []string{"image", corpusImage(t, "edge-layers"), "--platform", "linux"}, 2, "invalid platform"},
		{"no such platform", []string{"image", corpusImage(t, "multiarch-busybox"), "--platform", "linux/s390x"}, 2, "available: linux/amd64, linux/arm64/v8"},
		{"bad flag", []string{"image", "--no-such-flag", "x"}, 2, "unknown flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, nil, tc.args...)
			if code != tc.want {
				t.Errorf("exit %d, want %d (stderr: %s)", code, tc.want, errOut)
			}
			if tc.msg != "" && !strings.Contains(errOut, tc.msg) {
				t.Errorf("stderr %q lacks %q", errOut, tc.msg)
			}
		})
	}
}

// TestConfigAndEnvironment: flags come from the command line, then
// DRYDOCK_* variables, then the config file.
func TestConfigAndEnvironment(t *testing.T) {
	img := filepath.Join(analyzetest.Corpus(t), "multiarch-busybox", "oci")
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("platform: linux/arm64\noutput:\n  - json\nquiet: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	arch := func(out string) string {
		var r struct {
			Target struct{ Platform string } `json:"target"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("not a JSON report: %v\n%s", err, out)
		}
		return r.Target.Platform
	}
	// Config file alone.
	code, out, errOut := run(t, map[string]string{"DRYDOCK_CONFIG": cfg}, "image", img)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := arch(out); got != "linux/arm64/v8" {
		t.Errorf("config file: platform %s", got)
	}
	// The environment wins over the file.
	_, out, _ = run(t, map[string]string{"DRYDOCK_CONFIG": cfg, "DRYDOCK_PLATFORM": "linux/amd64"}, "image", img)
	if got := arch(out); got != "linux/amd64" {
		t.Errorf("environment: platform %s", got)
	}
	// The command line wins over both.
	_, out, _ = run(t, map[string]string{"DRYDOCK_CONFIG": cfg, "DRYDOCK_PLATFORM": "linux/amd64"}, "image", img, "--platform", "linux/arm64/v8")
	if got := arch(out); got != "linux/arm64/v8" {
		t.Errorf("flag: platform %s", got)
	}
	// A setting that is no flag is an error.
	if err := os.WriteFile(cfg, []byte("platfrom: linux/arm64\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, nil, "--config", cfg, "image", img)
	if code != 2 || !strings.Contains(errOut, `unknown setting "platfrom"`) {
		t.Errorf("typo in config: exit %d, %q", code, errOut)
	}
}

// TestJSONOnlyScanTimeVaries: without SOURCE_DATE_EPOCH two scans differ
// only in when the scan ran (scan.started, scan.duration_ms).
func TestJSONOnlyScanTimeVaries(t *testing.T) {
	img := corpusImage(t, "debian12-app")
	var docs [2]map[string]any
	for i := range docs {
		code, out, errOut := run(t, nil, "image", img, "-o", "json", "-q")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if err := json.Unmarshal([]byte(out), &docs[i]); err != nil {
			t.Fatal(err)
		}
		if _, ok := docs[i]["scan"].(map[string]any)["started"]; !ok {
			t.Fatalf("no scan.started in the report")
		}
		delete(docs[i], "scan")
	}
	a, _ := json.Marshal(docs[0])
	b, _ := json.Marshal(docs[1])
	if !bytes.Equal(a, b) {
		t.Errorf("two scans differ beyond the scan time")
	}
}
