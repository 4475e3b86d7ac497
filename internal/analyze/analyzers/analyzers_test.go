package analyzers_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
)

// lockV3 is a package-lock.json (lockfileVersion 3) of the named entries
// ("node_modules/a": `{"version":"1.0.0"}`).
func lockV3(name string, entries ...string) string {
	return `{"name":"` + name + `","lockfileVersion":3,"packages":{"":{"name":"` + name + `","version":"1.0.0"},` +
		strings.Join(entries, ",") + `}}`
}

func packageJSON(name, version string) string {
	return `{"name":"` + name + `","version":"` + version + `","license":"MIT"}`
}

func gemspec(name, version string) string {
	return "# stub: " + name + " " + version + " ruby lib\n\nGem::Specification.new do |s|\n  s.name = \"" + name +
		"\".freeze\n  s.version = \"" + version + "\"\nend\n"
}

// modeTree is a file system with a project of each ecosystem, the lock files
// libraries ship inside their installed copies, and projects with a lock
// file and nothing installed.
var modeTree = map[string]string{
	// An npm project: a and b installed; c only in the lock file (left out
	// by npm ci --omit=dev, say).
	"app/package.json": packageJSON("app", "1.0.0"),
	"app/package-lock.json": lockV3("app",
		`"node_modules/a":{"version":"1.0.0"}`,
		`"node_modules/b":{"version":"2.0.0","dev":true}`,
		`"node_modules/c":{"version":"3.0.0","dev":true}`),
	"app/node_modules/a/package.json": packageJSON("a", "1.0.0"),
	"app/node_modules/b/package.json": packageJSON("b", "2.0.0"),
	// Installed library a's own development lock file: x is not in the
	// image, and b is listed there too.
	"app/node_modules/a/package-lock.json": lockV3("a",
		`"node_modules/x":{"version":"9.0.0","dev":true}`,
		`"node_modules/b":{"version":"2.0.0","dev":true}`),
	"app/node_modules/a/yarn.lock": "# yarn lockfile v1\n\nx@^9:\n  version \"9.0.0\"\n",
	// A Debian node library with its own development lock files.
	"usr/share/nodejs/lib1/package.json":                     packageJSON("lib1", "1.0.0"),
	"usr/share/nodejs/lib1/pnpm-lock.yaml":                   "lockfileVersion: '9.0'\npackages:\n  y@5.0.0: {}\n  z@6.0.0: {}\n",
	"usr/lib/x86_64-linux-gnu/nodejs/lib2/package-lock.json": lockV3("lib2", `"node_modules/w":{"version":"4.0.0"}`),
	// An npm project's lock file with nothing installed.
	"srv/other/package-lock.json": lockV3("other", `"node_modules/q":{"version":"1.0.0"}`),

	// A Composer project: acme/installed installed, acme/dev only locked.
	"var/www/composer.lock": `{"packages":[{"name":"acme/installed","version":"1.0.0"}],` +
		`"packages-dev":[{"name":"acme/dev","version":"2.0.0"}]}`,
	"var/www/vendor/composer/installed.json": `{"packages":[{"name":"acme/installed","version":"1.0.0"}],"dev":false,"dev-package-names":[]}`,

	// A Bundler project with its gems in vendor/bundle: rack installed,
	// puma only locked.
	"app/Gemfile.lock": "GEM\n  remote: https://rubygems.org/\n  specs:\n    puma (6.0.0)\n    rack (3.0.8)\n\n" +
		"PLATFORMS\n  ruby\n\nDEPENDENCIES\n  puma\n  rack\n\nBUNDLED WITH\n   2.4.10\n",
	"app/vendor/bundle/ruby/3.2.0/specifications/rack-3.0.8.gemspec": gemspec("rack", "3.0.8"),

	// A Python project's requirements.
	"app/requirements.txt": "flask==3.0.0\n",

	// A Rust project's lock file, and a crate's own lock file in Cargo's
	// registry sources.
	"src/tool/Cargo.lock": "version = 3\n\n[[package]]\nname = \"tool\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"serde\"\n" +
		"version = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
	"root/.cargo/registry/src/index.crates.io-6f17d22bba15001f/rg-14.0.0/Cargo.lock": "version = 3\n\n[[package]]\nname = \"memchr\"\n" +
		"version = \"2.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
}

// TestModes: scanning an image, an inventory lists what is installed; a
// project's lock file adds its location (and its development flag) to the
// packages installed beside it and nothing else, except Cargo.lock (a Rust
// binary does not list its crates). Scanning a project directory, the
// project's lock files count on their own. In both modes the lock files
// libraries ship inside their installed copies are never read.
func TestModes(t *testing.T) {
	dir := t.TempDir()
	for name, body := range modeTree {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// In both modes: the installed packages, with the project's lock file
	// as a second location.
	installed := []string{
		"composer acme/installed 1.0.0 at /var/www/vendor/composer/installed.json, /var/www/composer.lock",
		"gem rack 3.0.8 at /app/vendor/bundle/ruby/3.2.0/specifications/rack-3.0.8.gemspec, /app/Gemfile.lock",
		"npm a 1.0.0 at /app/node_modules/a/package.json, /app/package-lock.json",
		"npm b 2.0.0 dev at /app/node_modules/b/package.json, /app/package-lock.json",
	}
	tests := []struct {
		mode analyze.Mode
		want []string
	}{
		{analyze.ModeImage, append([]string{
			"cargo serde 1.0.0 declared at /src/tool/Cargo.lock",
		}, installed...)},
		{analyze.ModeFS, []string{
			"cargo serde 1.0.0 declared at /src/tool/Cargo.lock",
			"composer acme/dev 2.0.0 declared dev at /var/www/composer.lock",
			installed[0],
			"gem puma 6.0.0 declared at /app/Gemfile.lock",
			installed[1], installed[2], installed[3],
			"npm c 3.0.0 declared dev at /app/package-lock.json",
			"npm q 1.0.0 declared at /srv/other/package-lock.json",
			"pypi flask 3.0.0 declared at /app/requirements.txt",
		}},
	}
	for _, tc := range tests {
		name := map[analyze.Mode]string{analyze.ModeImage: "image", analyze.ModeFS: "fs"}[tc.mode]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			img, err := source.Open(ctx, "dir:"+dir, source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			res, err := scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(tc.mode)})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range res.Inventory.Packages {
				s := p.Type + " " + p.Name + " " + p.Version
				if p.Declared {
					s += " declared"
				}
				if p.Dev {
					s += " dev"
				}
				if p.NeedsInstalled {
					s += " needs-installed"
				}
				var paths []string
				for _, l := range p.AllLocations() {
					paths = append(paths, l.Path)
				}
				got = append(got, s+" at "+strings.Join(paths, ", "))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
		})
	}
}
