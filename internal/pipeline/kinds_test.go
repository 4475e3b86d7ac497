package pipeline_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/layerio"
	"github.com/drydockscan/drydock/internal/misconfig"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/source"
)

// truthKinds is the part of TRUTH.json the secret and config scanners
// must meet.
type truthKinds struct {
	Image struct {
		Config struct {
			Env []string `json:"Env"`
		} `json:"config"`
	} `json:"image"`
	Secrets []struct {
		Path             string `json:"path"`
		AddedInLayers    []int  `json:"added_in_layers"`
		RemovedInLayers  []int  `json:"removed_in_layers"`
		PresentInFinalFS bool   `json:"present_in_final_fs"`
	} `json:"secrets"`
	ConfigFindings struct {
		EnvSecrets []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"env_secrets"`
		ExposedPorts       []string `json:"exposed_ports"`
		ExposesSSH22       bool     `json:"exposes_ssh_22"`
		HealthcheckDefined bool     `json:"healthcheck_defined"`
		RunsAsRoot         bool     `json:"runs_as_root"`
	} `json:"config_findings"`
}

func loadTruthKinds(t *testing.T, image string) *truthKinds {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(analyzetest.Corpus(t), image, "TRUTH.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr truthKinds
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	return &tr
}

// scanKinds runs the pipeline with the secret and config scanners, the
// logs captured at debug level.
func scanKinds(t *testing.T, target string, logs io.Writer) *report.Report {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	sc := pipeline.Scanners{Secret: true, Config: true, License: true}
	req := pipeline.Request{
		Target: target,
		Inventory: pipeline.InventoryOptions{
			Scanners: sc, Source: source.Options{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}},
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		},
		Scanners: sc, Compliance: "cis-docker-1.6",
		Gate: &report.Gate{FailOn: finding.Low}, Tool: report.Tool{Name: "drydock", Version: "test"},
		Started: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), FixedTime: true,
	}
	rep, err := pipeline.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	return rep
}

// finalFS is an image's final file system computed from the raw layer
// tars, independently of drydock's walker: path → mode and layer.
type fsEntry struct {
	mode  fs.FileMode
	typ   byte
	layer int
}

func finalFS(t *testing.T, image string) map[string]fsEntry {
	t.Helper()
	files := map[string]fsEntry{}
	for i, blob := range analyzetest.Layers(t, image) {
		f, err := os.Open(blob)
		if err != nil {
			t.Fatal(err)
		}
		s, err := layerio.Open(f, "", "", layerio.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		var deletes []string
		added := map[string]fsEntry{}
		tr := tar.NewReader(s)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			name := strings.TrimPrefix(path.Clean(hdr.Name), "./")
			dir, base := path.Split(name)
			switch {
			case base == ".wh..wh..opq":
				deletes = append(deletes, strings.TrimSuffix(dir, "/")+"/")
			case strings.HasPrefix(base, ".wh."):
				deletes = append(deletes, dir+strings.TrimPrefix(base, ".wh."))
			case name != ".":
				added[name] = fsEntry{mode: hdr.FileInfo().Mode(), typ: hdr.Typeflag, layer: i}
			}
		}
		s.Close()
		for _, d := range deletes {
			for p := range files {
				if strings.HasSuffix(d, "/") && strings.HasPrefix(p, d) || p == d || strings.HasPrefix(p, d+"/") {
					delete(files, p)
				}
			}
		}
		for p, e := range added {
			files[p] = e
		}
	}
	return files
}

// TestCorpusSecretsAndConfig checks every corpus image against its
// TRUTH.json: every planted secret is reported with the layer that added
// it and the layer that deleted it, every config finding the truth
// records fires (and none it rules out), and every other finding is
// explained by the image's raw layers (setuid files, world-writable
// entries, caches, sudo, computed here from the tars).
func TestCorpusSecretsAndConfig(t *testing.T) {
	for _, image := range []string{"debian12-app", "debian13-slim", "edge-layers", "multiarch-busybox"} {
		t.Run(image, func(t *testing.T) {
			tr := loadTruthKinds(t, image)
			rep := scanKinds(t, filepath.Join(analyzetest.Corpus(t), image, "oci"), nil)

			// Secrets: each truth secret at least once, right layers;
			// nothing at a path the truth does not list.
			want := map[string]bool{}
			for _, s := range tr.Secrets {
				want[s.Path] = true
				var got []finding.Secret
				for _, f := range rep.Secrets {
					if f.Path == s.Path {
						got = append(got, f)
					}
				}
				if len(got) == 0 {
					t.Errorf("secret %s not reported", s.Path)
				}
				for _, f := range got {
					if !slices.Contains(s.AddedInLayers, f.LayerIndex) {
						t.Errorf("%s (%s): layer_index %d, truth says added in %v", s.Path, f.ID, f.LayerIndex, s.AddedInLayers)
					}
					switch {
					case s.PresentInFinalFS && f.RemovedInLayerIndex != nil:
						t.Errorf("%s: removed_in_layer_index %d, but it is in the final file system", s.Path, *f.RemovedInLayerIndex)
					case !s.PresentInFinalFS && (f.RemovedInLayerIndex == nil || !slices.Contains(s.RemovedInLayers, *f.RemovedInLayerIndex)):
						t.Errorf("%s: removed_in_layer_index %v, truth says removed in %v", s.Path, f.RemovedInLayerIndex, s.RemovedInLayers)
					}
				}
			}
			for _, f := range rep.Secrets {
				if !want[f.Path] {
					t.Errorf("unexplained secret %s in %s (layer %d): %s", f.ID, f.Path, f.LayerIndex, f.Match)
				}
			}

			// Config findings against the truth.
			has := func(id string) []finding.Misconfiguration {
				var out []finding.Misconfiguration
				for _, m := range rep.Misconfigurations {
					if m.ID == id {
						out = append(out, m)
					}
				}
				return out
			}
			cf := tr.ConfigFindings
			if got := len(has(misconfig.RootUser)) > 0; got != cf.RunsAsRoot {
				t.Errorf("root-user fired %v, truth runs_as_root %v", got, cf.RunsAsRoot)
			}
			if got := len(has(misconfig.NoHealthcheck)) > 0; got == cf.HealthcheckDefined {
				t.Errorf("no-healthcheck fired %v, truth healthcheck_defined %v", got, cf.HealthcheckDefined)
			}
			ssh := false
			for _, m := range has(misconfig.RemoteAdminPort) {
				ssh = ssh || strings.Contains(m.Evidence, "22/tcp")
				port := strings.Fields(strings.TrimPrefix(m.Evidence, "EXPOSE "))[0]
				if !slices.Contains(cf.ExposedPorts, port) {
					t.Errorf("remote-admin-port for %s, which the image does not expose (%v)", port, cf.ExposedPorts)
				}
			}
			if ssh != cf.ExposesSSH22 {
				t.Errorf("remote-admin-port 22 fired %v, truth exposes_ssh_22 %v", ssh, cf.ExposesSSH22)
			}
			var envNames, wantEnv []string
			for _, m := range has(misconfig.SecretInEnv) {
				name, _, _ := strings.Cut(strings.TrimPrefix(m.Evidence, "ENV "), "=")
				envNames = append(envNames, name)
			}
			for _, e := range cf.EnvSecrets {
				wantEnv = append(wantEnv, e.Name)
			}
			if !slices.Equal(envNames, wantEnv) {
				t.Errorf("secret-in-env for %v, truth env_secrets %v", envNames, wantEnv)
			}

			// File checks against the raw layers.
			files := finalFS(t, image)
			var wantSetuid, wantWW []string
			sudo := false
			for p, e := range files {
				if e.typ == tar.TypeSymlink {
					continue
				}
				if e.typ != tar.TypeDir && e.mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
					wantSetuid = append(wantSetuid, "/"+p)
				}
				if e.mode.Perm()&0o002 != 0 && !strings.HasPrefix(p+"/", "tmp/") && !strings.HasPrefix(p+"/", "var/tmp/") &&
					!strings.HasPrefix(p+"/", "run/lock/") && !strings.HasPrefix(p+"/", "var/lock/") && !strings.HasPrefix(p+"/", "dev/shm/") {
					wantWW = append(wantWW, "/"+p)
				}
				sudo = sudo || p == "usr/bin/sudo"
			}
			paths := func(ms []finding.Misconfiguration) []string {
				var out []string
				for _, m := range ms {
					out = append(out, m.Path)
				}
				slices.Sort(out)
				return out
			}
			slices.Sort(wantSetuid)
			slices.Sort(wantWW)
			if got := paths(has(misconfig.SetuidSetgid)); !slices.Equal(got, wantSetuid) {
				t.Errorf("setuid-setgid on %v, the layers have %v", got, wantSetuid)
			}
			if got := paths(has(misconfig.WorldWritable)); !slices.Equal(got, wantWW) {
				t.Errorf("world-writable on %v, the layers have %v", got, wantWW)
			}
			if got := len(has(misconfig.SudoPresent)) > 0; got != sudo {
				t.Errorf("sudo-present %v, the layers have sudo: %v", got, sudo)
			}
			for _, m := range has(misconfig.PackageCache) {
				dir := strings.TrimPrefix(m.Path, "/")
				n := 0
				for p, e := range files {
					if strings.HasPrefix(p, dir+"/") && e.typ == tar.TypeReg && !strings.HasSuffix(p, "/lock") && !strings.Contains(p, "/partial/") {
						n++
					}
				}
				if n == 0 {
					t.Errorf("package-manager-cache on %s, which holds no file in the layers", m.Path)
				}
			}

			// Nothing else: the history of the corpus images has no
			// update-alone, remote ADD, secret build argument or curl | sh.
			explained := []string{misconfig.RootUser, misconfig.NoHealthcheck, misconfig.RemoteAdminPort, misconfig.SecretInEnv,
				misconfig.SetuidSetgid, misconfig.WorldWritable, misconfig.SudoPresent, misconfig.PackageCache}
			for _, m := range rep.Misconfigurations {
				if !slices.Contains(explained, m.ID) {
					t.Errorf("unexplained misconfiguration %s: %s", m.ID, m.Evidence)
				}
			}
		})
	}
}

// planted returns the secret values planted in debian12-app, read from its
// raw layers and its TRUTH.json: they must appear in no output.
func planted(t *testing.T) []string {
	t.Helper()
	tr := loadTruthKinds(t, "debian12-app")
	var out []string
	for _, e := range tr.ConfigFindings.EnvSecrets {
		out = append(out, e.Value)
	}
	layers := analyzetest.Layers(t, "debian12-app")
	creds := analyzetest.ReadFromBlob(t, layers[2], "root/.aws/credentials")
	for _, line := range strings.Split(string(creds), "\n") {
		if _, v, ok := strings.Cut(line, "="); ok {
			out = append(out, strings.TrimSpace(v))
		}
	}
	key := analyzetest.ReadFromBlob(t, layers[2], "app/config/tls.key")
	lines := strings.Split(strings.TrimSpace(string(key)), "\n")
	if len(out) < 3 || len(lines) < 4 {
		t.Fatalf("planted secrets not found in the layers: %d values, %d key lines", len(out), len(lines))
	}
	// Key material lines (not the header, nor the first line whose
	// start is the DER prefix every RSA key shares).
	out = append(out, lines[2], lines[len(lines)-2])
	for _, v := range out {
		if len(v) < 7 {
			t.Fatalf("planted value %q too short to search for", v)
		}
	}
	return out
}

// TestNoSecretInAnyOutput writes every format (and the debug log) of a
// debian12-app scan and searches them for the planted secret values.
func TestNoSecretInAnyOutput(t *testing.T) {
	secrets := planted(t)
	var logs bytes.Buffer
	rep := scanKinds(t, filepath.Join(analyzetest.Corpus(t), "debian12-app", "oci"), &logs)
	if len(rep.Secrets) == 0 || len(rep.Misconfigurations) == 0 {
		t.Fatalf("no secrets or misconfigurations found: the search would prove nothing")
	}
	tpl, err := os.ReadFile("../../contrib/templates/markdown.tpl")
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string][]byte{"debug log": logs.Bytes()}
	for _, f := range report.Formats() {
		var buf bytes.Buffer
		if err := f.Write(&buf, rep, report.Options{Template: string(tpl) + "{{range .Secrets}}{{.Match}}{{end}}{{range .Misconfigurations}}{{.Evidence}}{{end}}"}); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		outputs[f.Name] = buf.Bytes()
	}
	for name, out := range outputs {
		for _, s := range secrets {
			if bytes.Contains(out, []byte(s)) {
				t.Errorf("%s contains the planted secret %s…", name, s[:2])
			}
		}
	}
	// The search can fail: an output holding a secret is found.
	leaky := append([]byte("x "), secrets[0]...)
	found := false
	for _, s := range secrets {
		found = found || bytes.Contains(leaky, []byte(s))
	}
	if !found {
		t.Error("the search does not find a planted value")
	}
	// The JSON report with every kind validates against the documented
	// schema.
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile("../../docs/json-report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(outputs["json"]))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Errorf("the JSON report does not validate against docs/json-report.schema.json: %v", err)
	}
	if !bytes.Contains(outputs["json"], []byte(`"compliance"`)) || !bytes.Contains(outputs["json"], []byte(`"license_summary"`)) {
		t.Error("the JSON report lacks compliance or the licence summary")
	}
	// Every format carries the secret and misconfiguration findings.
	for _, name := range []string{"table", "json", "sarif", "csv", "junit", "html"} {
		for _, want := range []string{"aws-access-key-id", "root-user"} {
			if !bytes.Contains(outputs[name], []byte(want)) {
				t.Errorf("%s does not carry %s", name, want)
			}
		}
	}
}
