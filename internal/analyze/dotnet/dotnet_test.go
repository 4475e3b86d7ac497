package dotnet

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/inventory"
)

func nuget(name, version string) inventory.Package {
	return inventory.Package{Type: inventory.TypeNuGet, Name: name, Version: version}
}

// TestRealFiles checks real deps.json files against the expectations
// published with them (see testdata/README.md).
func TestRealFiles(t *testing.T) {
	tests := []struct {
		file string
		want []inventory.Package
	}{
		{"testdata/without-runtime.deps.json", []inventory.Package{
			nuget("JsonDiffPatch", "2.0.61"), nuget("Libuv", "1.9.1"), nuget("System.Collections.Immutable", "1.3.0"),
		}},
		{"testdata/Web.deps.json", []inventory.Package{nuget("Newtonsoft.Json", "13.0.3")}},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		res, err := analyzetest.File(t, New(), "app/"+tt.file[len("testdata/"):], b)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if diff := cmp.Diff(tt.want, res.Packages); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.file, diff)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []inventory.Package
		wantErr bool
	}{
		{name: "self-contained runtime pack", in: `{
			"runtimeTarget": {"name": ".NETCoreApp,Version=v8.0/linux-x64"},
			"targets": {".NETCoreApp,Version=v8.0/linux-x64": {
				"runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.0": {"runtime": {"System.Private.CoreLib.dll": {}}},
				"Serilog/3.1.1": {"runtime": {"lib/net7.0/Serilog.dll": {}}},
				"Microsoft.NETCore.Platforms/1.1.0": {},
				"Analyzers/1.0.0": {"runtime": {}, "native": null}
			}},
			"libraries": {
				"runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.0": {"type": "runtimepack"},
				"Serilog/3.1.1": {"type": "Package"},
				"Microsoft.NETCore.Platforms/1.1.0": {"type": "package"},
				"Analyzers/1.0.0": {"type": "package"},
				"App/1.0.0": {"type": "project"},
				"Ref/1.0.0": {"type": "reference"}
			}}`,
			want: []inventory.Package{nuget("Microsoft.NETCore.App.Runtime.linux-x64", "8.0.0"), nuget("Serilog", "3.1.1")}},
		{name: "no runtime target: every package", in: `{"libraries": {"A/1.0.0": {"type": "package"}, "B/2.0.0-beta.1": {"type": "package"}}}`,
			want: []inventory.Package{nuget("A", "1.0.0"), nuget("B", "2.0.0-beta.1")}},
		{name: "runtime target missing from targets", in: `{"runtimeTarget": {"name": "x"}, "targets": {"y": {"A/1.0.0": {}}}, "libraries": {"A/1.0.0": {"type": "package"}}}`,
			want: []inventory.Package{nuget("A", "1.0.0")}},
		{name: "empty object", in: `{}`},
		{name: "not JSON", in: `{"libraries": `, wantErr: true},
		{name: "array", in: `[]`, wantErr: true},
		{name: "libraries wrong type", in: `{"libraries": []}`, wantErr: true},
		{name: "key without version", in: `{"libraries": {"A": {"type": "package"}}}`, wantErr: true},
		{name: "key with empty version", in: `{"libraries": {"A/": {"type": "package"}}}`, wantErr: true},
		{name: "key with two slashes", in: `{"libraries": {"A/1/2": {"type": "package"}}}`, wantErr: true},
		{name: "project key without version is ignored", in: `{"libraries": {"A": {"type": "project"}}}`},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestRequired(t *testing.T) {
	tests := []struct {
		path string
		size int64
		want bool
	}{
		{"app/App.deps.json", 1000, true},
		{"usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.0/Microsoft.NETCore.App.deps.json", 1000, true},
		{"app/App.runtimeconfig.json", 1000, false},
		{"app/deps.json.bak", 1000, false},
		{"app/App.deps.json", 33 << 20, false},
	}
	for _, tt := range tests {
		if got := New().Required(tt.path, analyze.FileInfo{Size: tt.size, Mode: 0o644}); got != tt.want {
			t.Errorf("Required(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/without-runtime.deps.json", "testdata/Web.deps.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"libraries": {"A/1.0.0": {"type": "runtimepack"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Parse(b)
		if err != nil && pkgs != nil {
			t.Fatal("packages and error")
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("incomplete package %+v", p)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	content, err := os.ReadFile("testdata/without-runtime.deps.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(content); err != nil {
			b.Fatal(err)
		}
	}
}
