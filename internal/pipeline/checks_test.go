package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/misconfig"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/policy"
	"github.com/drydockscan/drydock/internal/report"
	it "github.com/drydockscan/drydock/internal/testutil/imagetest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// image is a test image: its config and its layers' entries.
type image struct {
	config  map[string]any
	history []map[string]any
	layers  [][]it.Entry
}

var cleanConfig = map[string]any{"User": "app", "Healthcheck": map[string]any{"Test": []string{"CMD", "/bin/true"}}}

func build(t *testing.T, img image) string {
	t.Helper()
	var layers []it.Layer
	for _, l := range img.layers {
		layers = append(layers, it.GzipLayer(t, l...))
	}
	return it.Layout(t, layers, func(p *it.Parts) {
		cfg := map[string]any{}
		for k, v := range cleanConfig {
			cfg[k] = v
		}
		for k, v := range img.config {
			cfg[k] = v
		}
		p.Config["config"] = cfg
		if img.history != nil {
			p.Config["history"] = img.history
		}
	})
}

func mode(e it.Entry, m int64) it.Entry { e.Mode = m; return e }

// TestImageChecks builds, for every config, history and file check, an
// image that fires it and one that does not, and scans both.
func TestImageChecks(t *testing.T) {
	base := []it.Entry{it.Dir("etc"), it.File("etc/os-release", "ID=debian\nVERSION_ID=12\n")}
	layer := func(extra ...it.Entry) [][]it.Entry { return [][]it.Entry{append(slices.Clone(base), extra...)} }
	hist := func(cmds ...string) []map[string]any {
		var h []map[string]any
		for _, c := range cmds {
			h = append(h, map[string]any{"created_by": c, "empty_layer": true})
		}
		return append([]map[string]any{{"created_by": "COPY rootfs / # buildkit"}}, h...)
	}
	cases := []struct {
		check      string
		fire, pass image
	}{
		{misconfig.RootUser, image{config: map[string]any{"User": "0:0"}, layers: layer()}, image{config: map[string]any{"User": "10001"}, layers: layer()}},
		{misconfig.NoHealthcheck, image{config: map[string]any{"Healthcheck": map[string]any{"Test": []string{"NONE"}}}, layers: layer()}, image{layers: layer()}},
		{misconfig.RemoteAdminPort, image{config: map[string]any{"ExposedPorts": map[string]any{"3389/tcp": map[string]any{}}}, layers: layer()},
			image{config: map[string]any{"ExposedPorts": map[string]any{"8080/tcp": map[string]any{}}}, layers: layer()}},
		{misconfig.SecretInEnv, image{config: map[string]any{"Env": []string{"API_KEY=k3y-v4lu3-123"}}, layers: layer()},
			image{config: map[string]any{"Env": []string{"API_KEY_FILE=/run/secrets/key", "GPG_KEY=ABCDEF"}}, layers: layer()}},
		{misconfig.SecretInLabel, image{config: map[string]any{"Labels": map[string]any{"deploy.token": "t0k3n-v4lu3"}}, layers: layer()},
			image{config: map[string]any{"Labels": map[string]any{"org.opencontainers.image.title": "app"}}, layers: layer()}},
		{misconfig.SecretInHistory, image{history: hist("RUN |1 NPM_TOKEN=npm-t0k3n-123 /bin/sh -c npm ci # buildkit"), layers: layer()},
			image{history: hist("RUN |1 VERSION=1.2 /bin/sh -c make # buildkit"), layers: layer()}},
		{misconfig.AddRemoteURL, image{history: hist("ADD https://example.com/app.tgz /opt/ # buildkit"), layers: layer()},
			image{history: hist("/bin/sh -c #(nop) ADD file:0123abcd in / "), layers: layer()}},
		{misconfig.UpdateAlone, image{history: hist("RUN /bin/sh -c apt-get update # buildkit"), layers: layer()},
			image{history: hist("RUN /bin/sh -c apt-get update && apt-get install -y curl # buildkit"), layers: layer()}},
		{misconfig.PipeToShell, image{history: hist("RUN /bin/sh -c curl -fsSL https://get.example.com | bash # buildkit"), layers: layer()},
			image{history: hist("RUN /bin/sh -c curl -fsSLo /x https://get.example.com # buildkit"), layers: layer()}},
		{misconfig.SetuidSetgid, image{layers: layer(it.Dir("usr"), it.Dir("usr/bin"), mode(it.File("usr/bin/helper", "x"), 0o4755))},
			image{layers: [][]it.Entry{append(slices.Clone(base), it.Dir("usr"), it.Dir("usr/bin"), mode(it.File("usr/bin/helper", "x"), 0o4755)), {it.File("usr/bin/.wh.helper", "")}}}},
		{misconfig.WorldWritable, image{layers: layer(it.Dir("srv"), mode(it.Dir("srv/data"), 0o777))},
			image{layers: layer(mode(it.Dir("tmp"), 0o1777), mode(it.File("tmp/x", "x"), 0o666))}},
		{misconfig.PackageCache, image{layers: layer(it.Dir("var"), it.Dir("var/lib"), it.Dir("var/lib/apt"), it.Dir("var/lib/apt/lists"), it.File("var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease", "x"))},
			image{layers: layer(it.Dir("var"), it.Dir("var/lib"), it.Dir("var/lib/apt"), it.Dir("var/lib/apt/lists"), it.File("var/lib/apt/lists/lock", ""))}},
		{misconfig.SudoPresent, image{layers: layer(it.Dir("usr"), it.Dir("usr/bin"), it.File("usr/bin/sudo", "x"))}, image{layers: layer(it.Dir("usr"), it.Dir("usr/bin"), it.File("usr/bin/su", "x"))}},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.check] = true
		for _, variant := range []string{"fire", "pass"} {
			t.Run(tc.check+"/"+variant, func(t *testing.T) {
				img := tc.fire
				if variant == "pass" {
					img = tc.pass
				}
				rep := scanKinds(t, build(t, img), nil)
				var ids []string
				for _, m := range rep.Misconfigurations {
					ids = append(ids, m.ID)
					if strings.Contains(m.Evidence, "v4lu3") || strings.Contains(m.Evidence, "t0k3n") {
						t.Errorf("evidence leaks a secret: %s", m.Evidence)
					}
				}
				if slices.Contains(ids, tc.check) != (variant == "fire") {
					t.Errorf("%s image: findings %v", variant, ids)
				}
			})
		}
	}
	for _, c := range misconfig.Checks() {
		if slices.ContainsFunc(c.Sources, func(s string) bool { return s != "dockerfile" }) && !covered[c.ID] {
			t.Errorf("check %s has no test image", c.ID)
		}
	}
}

// TestComplianceGolden writes the cis-docker-1.6 compliance report of the
// debian12-app and debian13-slim scans and compares it with golden files
// (go test ./internal/pipeline -run Compliance -update rewrites them).
func TestComplianceGolden(t *testing.T) {
	for _, name := range []string{"debian12-app", "debian13-slim"} {
		t.Run(name, func(t *testing.T) {
			rep := scanKinds(t, filepath.Join(analyzetest.Corpus(t), name, "oci"), nil)
			js, err := json.MarshalIndent(rep.Compliance, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			// The table's compliance section, from its heading to the end
			// of the controls.
			var tbl bytes.Buffer
			if err := report.WriteTable(&tbl, rep, report.Options{Width: 120}); err != nil {
				t.Fatal(err)
			}
			text := tbl.String()
			start := strings.Index(text, "\nCompliance: ")
			if start < 0 {
				t.Fatalf("the table has no compliance section:\n%s", text)
			}
			text = text[start+1:]
			if end := strings.Index(text, "\n\n"); end >= 0 {
				text = text[:end+1]
			}
			for ext, got := range map[string]string{"json": string(js) + "\n", "txt": text} {
				golden := filepath.Join("testdata", "compliance-"+name+"."+ext)
				if *update {
					if err := os.MkdirAll("testdata", 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update)", err)
				}
				if d := cmp.Diff(string(want), got); d != "" {
					t.Errorf("compliance report (%s) differs (-want +got):\n%s", ext, d)
				}
			}
		})
	}
}

// TestPolicyRules runs policy files over a debian12-app scan.
func TestPolicyRules(t *testing.T) {
	rep := scanKinds(t, filepath.Join(analyzetest.Corpus(t), "debian12-app", "oci"), nil)
	labels := map[string]string{"product": "orders"}
	eval := func(doc string) *report.PolicyResult {
		t.Helper()
		rs, err := policy.ParseRules([]byte(doc), "policy.yaml")
		if err != nil {
			t.Fatal(err)
		}
		res, err := rs.Evaluate(rep, labels, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := eval(`rules:
  - id: no-deleted-secrets
    action: fail
    kind: secret
    when: 'finding.removed_in_layer_index >= 0'
  - id: root-in-orders
    action: warn
    ids: [root-user]
    when: 'image.labels[?"product"].orValue("") == "orders"'
  - id: root-in-billing
    action: fail
    ids: [root-user]
    when: 'image.labels[?"product"].orValue("") == "billing"'
  - id: no-gpl3-in-orders
    action: fail
    kind: license
    when: 'finding.license.contains("GPL-3.0") && image.labels["product"] == "orders"'
`)
	count := map[string]int{}
	for _, v := range res.Violations {
		count[v.Rule]++
	}
	deleted := 0
	for _, s := range rep.Secrets {
		if s.RemovedInLayerIndex != nil {
			deleted++
		}
	}
	gpl3 := 0
	for _, l := range rep.Licenses {
		if strings.Contains(l.License, "GPL-3.0") {
			gpl3++
		}
	}
	if deleted == 0 || gpl3 == 0 {
		t.Fatalf("the scan has %d deleted secrets and %d GPL-3.0 licences: the rules would prove nothing", deleted, gpl3)
	}
	want := map[string]int{"no-deleted-secrets": deleted, "root-in-orders": 1, "no-gpl3-in-orders": gpl3}
	if d := cmp.Diff(want, count); d != "" {
		t.Errorf("violations per rule (-want +got):\n%s", d)
	}
	if !res.Failed {
		t.Error("fail rules matched but the policy did not fail")
	}
	if res := eval("rules:\n  - id: only-warn\n    action: warn\n    min_severity: CRITICAL\n"); res.Failed || len(res.Violations) == 0 {
		t.Errorf("warn-only policy: %+v", res)
	}

	for _, bad := range []struct{ doc, want string }{
		{"rules:\n  - id: broken\n    action: fail\n    when: 'finding.severity ==== \"HIGH\"'\n", `rule "broken" (line 2): when: CEL does not compile`},
		{"rules:\n  - id: notbool\n    action: fail\n    when: '1 + 2'\n", "want bool"},
		{"rules:\n  - id: x\n    action: block\n", `action "block"`},
		{"rules:\n  - id: x\n    action: warn\n    colour: red\n", "colour"},
	} {
		_, err := policy.ParseRules([]byte(bad.doc), "policy.yaml")
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "policy.yaml") {
			t.Errorf("ParseRules(%q) = %v, want an error naming the file and %q", bad.doc, err, bad.want)
		}
	}
}

// TestFSDockerfiles scans a project directory: its Dockerfiles (in any
// folder, by any of their names) are checked, and a secret in a file is
// found in the single layer a directory is.
func TestFSDockerfiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM debian:latest\nRUN apt-get update\n")
	write("deploy/api.Dockerfile", "FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000000\nUSER 1000\nHEALTHCHECK CMD [\"/bin/true\"]\nEXPOSE 22\n")
	write("node_modules/x/Dockerfile", "FROM ignored\n")
	write("config/.env", "DB_PASSWORD=Pr0duct10nPassw0rd\n")
	sc := pipeline.Scanners{Secret: true, Config: true}
	rep, err := pipeline.Run(context.Background(), pipeline.Request{
		Target:    "dir:" + dir,
		Inventory: pipeline.InventoryOptions{Mode: analyze.ModeFS, Scanners: sc},
		Scanners:  sc, Started: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, m := range rep.Misconfigurations {
		if m.Source != "dockerfile" {
			t.Errorf("directory scan: %s from %s", m.ID, m.Source)
		}
		got[m.Path] = append(got[m.Path], m.ID)
	}
	want := map[string][]string{
		"/Dockerfile":            {"latest-tag", "no-healthcheck", "root-user", "unpinned-base-image", "update-alone"},
		"/deploy/api.Dockerfile": {"remote-admin-port"},
	}
	for k := range got {
		slices.Sort(got[k])
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Dockerfile findings (-want +got):\n%s", d)
	}
	if len(rep.Secrets) != 1 || rep.Secrets[0].Path != "/config/.env" || rep.Secrets[0].ID != "password-assignment" || rep.Secrets[0].RemovedInLayerIndex != nil {
		t.Errorf("secrets %+v", rep.Secrets)
	}
}
