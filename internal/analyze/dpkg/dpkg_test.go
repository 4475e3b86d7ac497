package dpkg_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/analyze/dpkg"
	"github.com/drydockscan/drydock/internal/inventory"
)

// dpkgQuery lists what the real dpkg-query reads from a status file, in
// the form "name arch version source source-version", or reports that
// dpkg-query refused the file.
func dpkgQuery(t *testing.T, status []byte) ([]string, error) {
	t.Helper()
	bin, err := exec.LookPath("dpkg-query")
	if err != nil {
		t.Skip("dpkg-query not installed")
	}
	dir := t.TempDir()
	for _, d := range []string{"info", "updates"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "status"), status, 0o644)
	cmd := exec.Command(bin, "--admindir="+dir, "-W", "-f", `${db:Status-Status} ${Package} ${Architecture} ${Version} ${source:Package} ${source:Version}\n`)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New(stderr.String())
	}
	var pkgs []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		state, rest, _ := strings.Cut(line, " ")
		switch state {
		case "installed", "half-configured", "unpacked", "triggers-awaited", "triggers-pending":
			pkgs = append(pkgs, rest)
		}
	}
	slices.Sort(pkgs)
	return pkgs, nil
}

func summarise(pkgs []inventory.Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, strings.Join([]string{p.Name, p.Arch, p.Version, p.SourceName, p.SourceVersion}, " "))
	}
	slices.Sort(out)
	return out
}

// statusFiles returns real status files: every layer's of the corpus
// images and the fixtures collected in ../shared/vulndata.
func statusFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, image := range []string{"debian12-app", "debian13-slim", "edge-layers"} {
		for i, blob := range analyzetest.Layers(t, image) {
			b := analyzetest.ReadFromBlob(t, blob, "var/lib/dpkg/status")
			if b != nil {
				files[image+"/layer"+string(rune('0'+i))] = b
			}
		}
	}
	fixtures, _ := filepath.Glob(filepath.Join(analyzetest.Corpus(t), "..", "vulndata", "fixtures", "claircore", "dpkg", "testdata", "*.status"))
	for _, f := range fixtures {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(f)] = b
	}
	return files
}

// TestParseStatusAgainstDpkgQuery: for every real status file, drydock
// lists exactly what dpkg-query lists, and refuses what dpkg-query refuses.
func TestParseStatusAgainstDpkgQuery(t *testing.T) {
	files := statusFiles(t)
	if len(files) < 5 {
		t.Fatalf("only %d status files found", len(files))
	}
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			want, qerr := dpkgQuery(t, b)
			got, err := dpkg.ParseStatus(b, false)
			if qerr != nil {
				if err == nil {
					t.Errorf("dpkg-query refuses the file (%s) but drydock read %d packages", strings.TrimSpace(qerr.Error()), len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("drydock refuses a file dpkg-query reads: %v", err)
			}
			if diff := cmp.Diff(want, summarise(got)); diff != "" {
				t.Errorf("(-dpkg-query +drydock):\n%s", diff)
			}
		})
	}
}

func TestParseStatusMalformed(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"continuation first", " orphan\nPackage: a\n", "line 1: continuation line outside a field"},
		{"no colon", "Package: a\nVersion 1\n", `line 2: expected "Field: value"`},
		{"no package", "Status: install ok installed\nVersion: 1\n", "stanza 1 has no Package field"},
		{"bad status", "Package: a\nStatus: installed\nVersion: 1\n", `Status "installed"`},
		{"bad version", "Package: a\nStatus: install ok installed\nVersion: 1 2\n", `invalid Version "1 2"`},
		{"no version", "Package: a\nStatus: install ok installed\n", `invalid Version ""`},
		{"bad name", "Package: A_b\nStatus: install ok installed\nVersion: 1\n", `invalid package name "A_b"`},
		{"bad source", "Package: a\nStatus: install ok installed\nVersion: 1\nSource: b (x y)\n", "invalid Source"},
		{"binary garbage", "\x00\x01\x02\xff\n", "expected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dpkg.ParseStatus([]byte(tc.in), false)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, dpkg.ErrMalformed) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseStatusStates(t *testing.T) {
	in := `Package: kept
Status: install ok installed
Version: 1
Source: src (0.9)

Package: removed
Status: deinstall ok config-files
Version: 1

Package: purged
Status: purge ok not-installed

Package: unpacked
Status: install ok unpacked
Version: 2:1.0~rc1-1+b1
Architecture: arm64
`
	got, err := dpkg.ParseStatus([]byte(in), false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"kept  1 src 0.9", "unpacked arm64 2:1.0~rc1-1+b1 unpacked 2:1.0~rc1-1+b1"}
	if diff := cmp.Diff(want, summarise(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Distroless status.d stanzas may have no Status at all.
	got, err = dpkg.ParseStatus([]byte("Package: base-files\nVersion: 12.4\nArchitecture: amd64\n"), true)
	if err != nil || len(got) != 1 {
		t.Errorf("status.d: %v %v", got, err)
	}
	if _, err := dpkg.ParseStatus([]byte("Package: base-files\nVersion: 12.4\n"), false); err == nil {
		t.Error("status without Status field accepted")
	}
}

func TestParseCopyright(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"dep5", "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2+\n\nFiles: lib/*\nLicense: MIT\n\nLicense: GPL-2+\n This program is free software\n", []string{"GPL-2+", "MIT"}},
		{"free text", "This is Debian's prepackaged glibc.\nSee /usr/share/common-licenses/LGPL-2.1 and /usr/share/common-licenses/GPL-2.\n", []string{"GPL-2", "LGPL-2.1"}},
		{"nothing", "Copyright 2020 someone.\n", nil},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, dpkg.ParseCopyright([]byte(tc.in))); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tc.name, diff)
		}
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("Package: a\nStatus: install ok installed\nVersion: 1:2.3-4\nSource: b (2.3-4)\n\n"), false)
	f.Add([]byte("Package: a\nVersion: 1\n continuation\n"), true)
	f.Fuzz(func(t *testing.T, b []byte, distroless bool) {
		pkgs, err := dpkg.ParseStatus(b, distroless)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || p.SourceName == "" {
				t.Errorf("incomplete package %+v", p)
			}
		}
	})
}

func FuzzParseCopyright(f *testing.F) {
	f.Add([]byte("Format: x\nLicense: MIT\n"))
	f.Fuzz(func(t *testing.T, b []byte) { dpkg.ParseCopyright(b) })
}
