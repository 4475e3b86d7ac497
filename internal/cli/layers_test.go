package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/cli"
	"github.com/drydockscan/drydock/internal/testutil/siftest"
)

// TestLayersJSON: the documented fields, with each layer's diff_id and
// created_by as the corpus records them.
func TestLayersJSON(t *testing.T) {
	dir := filepath.Join(analyzetest.Corpus(t), "edge-layers")
	code, out, errOut := run(t, nil, "layers", filepath.Join(dir, "oci"), "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		Efficiency        *float64 `json:"efficiency"`
		WastedBytes       *int64   `json:"wasted_bytes"`
		UserWastedPercent *float64 `json:"user_wasted_percent"`
		Layers            []struct {
			Index     int    `json:"index"`
			DiffID    string `json:"diff_id"`
			CreatedBy string `json:"created_by"`
			Size      int64  `json:"size"`
			Files     []struct{ Path, Change, Type string }
		} `json:"layers"`
		Wasted []struct{ Path string } `json:"wasted"`
		Tree   []struct {
			Path  string
			Layer int
		} `json:"tree"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	var truth struct {
		Image struct {
			Layers []struct {
				DiffID    string `json:"diff_id"`
				CreatedBy string `json:"created_by"`
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "TRUTH.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	if got.Efficiency == nil || got.WastedBytes == nil || got.UserWastedPercent == nil {
		t.Fatalf("efficiency, wasted_bytes or user_wasted_percent missing:\n%s", out)
	}
	if len(got.Layers) != len(truth.Image.Layers) {
		t.Fatalf("%d layers, TRUTH has %d", len(got.Layers), len(truth.Image.Layers))
	}
	for i, l := range got.Layers {
		if l.Index != i || l.DiffID != truth.Image.Layers[i].DiffID || l.CreatedBy != truth.Image.Layers[i].CreatedBy {
			t.Errorf("layer %d: %d %s %q; TRUTH %+v", i, l.Index, l.DiffID, l.CreatedBy, truth.Image.Layers[i])
		}
		if len(l.Files) == 0 {
			t.Errorf("layer %d lists no changed files", i)
		}
	}
	if len(got.Wasted) == 0 || len(got.Tree) == 0 {
		t.Errorf("%d wasted paths, %d tree entries", len(got.Wasted), len(got.Tree))
	}
}

// TestLayersCI: dive's rules and their exit codes. edge-layers has
// efficiency 0.9916, 24053 wasted bytes and a user wasted fraction of
// 0.353 (TestDiveMetricsOnCorpus computes them independently).
func TestLayersCI(t *testing.T) {
	img := corpusImage(t, "edge-layers")
	for _, c := range []struct {
		args     []string
		code     int
		contains []string
	}{
		{nil, cli.ExitPolicy, []string{"PASS  lowest-efficiency", "SKIP  highest-wasted-bytes", "FAIL  highest-user-wasted-percent"}},
		{[]string{"--highest-user-wasted-percent", "0.4"}, cli.ExitOK, []string{"PASS  highest-user-wasted-percent"}},
		{[]string{"--highest-user-wasted-percent", "0.4", "--lowest-efficiency", "0.995"}, cli.ExitPolicy, []string{"FAIL  lowest-efficiency"}},
		{[]string{"--highest-user-wasted-percent", "disabled", "--highest-wasted-bytes", "20kB"}, cli.ExitPolicy, []string{"FAIL  highest-wasted-bytes"}},
		{[]string{"--highest-user-wasted-percent", "disabled", "--highest-wasted-bytes", "30kB"}, cli.ExitOK, []string{"PASS  highest-wasted-bytes"}},
		{[]string{"--exit-code", "3"}, 3, []string{"FAIL  highest-user-wasted-percent"}},
		{[]string{"--lowest-efficiency", "high"}, cli.ExitError, nil},
		{[]string{"--highest-wasted-bytes", "lots"}, cli.ExitError, nil},
	} {
		code, out, errOut := run(t, nil, append([]string{"layers", img, "--ci", "-q"}, c.args...)...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", c.args, code, c.code, out, errOut)
		}
		for _, w := range c.contains {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, w, out)
			}
		}
	}
}

// TestSourceErrorsExit2: a stopped engine, an absent image, a SIF file
// without a root file system and a truncated one are errors (exit 2)
// that say what is wrong.
func TestSourceErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data.bin")
	if err := os.WriteFile(data, []byte("just some data"), 0o644); err != nil {
		t.Fatal(err)
	}
	noRoot := siftest.Build(t, siftest.Object{File: data})
	raw, err := os.ReadFile(noRoot)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.sif")
	if err := os.WriteFile(truncated, raw[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DOCKER_HOST": "unix://" + dir + "/none.sock", "CONTAINER_HOST": "unix://" + dir + "/none.sock"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"image", "--scanners", "none", "docker:app:1"}, "not reachable"},
		{[]string{"image", "--scanners", "none", "podman:app:1"}, "not reachable"},
		{[]string{"layers", "docker:app:1"}, "not reachable"},
		{[]string{"image", "--scanners", "none", noRoot}, "no root file-system partition"},
		{[]string{"layers", "sif:" + noRoot}, "no root file-system partition"},
		{[]string{"image", "--scanners", "none", "sif:" + truncated}, "truncated.sif"},
		{[]string{"image", "--scanners", "none", "--image-src", "docker", "corpus/app:1"}, "not reachable"},
		{[]string{"image", "--scanners", "none", "--image-src", "docker,nowhere", "corpus/app:1"}, "unknown source"},
	} {
		code, _, errOut := run(t, env, c.args...)
		if code != cli.ExitError || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// TestHTMLLayersSection: drydock image -o html shows the layer analysis
// drydock layers computes.
func TestHTMLLayersSection(t *testing.T) {
	img := corpusImage(t, "edge-layers")
	out := filepath.Join(t.TempDir(), "r.html")
	code, _, errOut := run(t, nil, "image", "--scanners", "none", "-q", img, "-o", "html="+out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, js, _ := run(t, nil, "layers", img, "-o", "json")
	var a struct{ Efficiency float64 }
	if err := json.Unmarshal([]byte(js), &a); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("<dt>Efficiency</dt><dd>%.2f %%</dd>", a.Efficiency*100)
	if !strings.Contains(string(b), want) {
		t.Errorf("the HTML report lacks %q", want)
	}
}
