package inventory

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScope(t *testing.T) {
	tests := []struct{ typ, path, want string }{
		{TypeDeb, "/var/lib/dpkg/status", ""},
		{TypeRPM, "/usr/lib/sysimage/rpm/rpmdb.sqlite", ""},
		// npm: the project holding package.json, the lock file and node_modules.
		{TypeNPM, "/app/node_modules/a/package.json", "/app"},
		{TypeNPM, "/app/node_modules/a/node_modules/@s/b/package.json", "/app"},
		{TypeNPM, "/app/node_modules/.pnpm/a@1.0.0/node_modules/a/package.json", "/app"},
		{TypeNPM, "/app/package-lock.json", "/app"},
		{TypeNPM, "/app/yarn.lock", "/app"},
		{TypeNPM, "/node_modules/a/package.json", "/"},
		{TypeNPM, "/package-lock.json", "/"},
		{TypeNPM, "/usr/lib/node_modules/npm/node_modules/abbrev/package.json", "/usr/lib"},
		{TypeNPM, "/app/.yarn/unplugged/esbuild-npm-0.19.0-abc/node_modules/esbuild/package.json", "/app"},
		// Python: the environment's site-packages.
		{TypePyPI, "/usr/lib/python3/dist-packages/requests-2.28.1.egg-info", "/usr/lib/python3/dist-packages"},
		{TypePyPI, "/venv/lib/python3.12/site-packages/flask-3.0.0.dist-info", "/venv/lib/python3.12/site-packages"},
		{TypePyPI, "/app/requirements.txt", "/app"},
		// Ruby: the gem home, or the project of vendor/bundle.
		{TypeGem, "/usr/local/bundle/specifications/rack-3.0.8.gemspec", "/usr/local/bundle"},
		{TypeGem, "/usr/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec", "/usr/lib/ruby/gems/3.1.0"},
		{TypeGem, "/app/vendor/bundle/ruby/3.2.0/specifications/rack-3.0.8.gemspec", "/app"},
		{TypeGem, "/app/Gemfile.lock", "/app"},
		// Composer: the project holding composer.lock and vendor/.
		{TypeComposer, "/var/www/vendor/composer/installed.json", "/var/www"},
		{TypeComposer, "/var/www/composer.lock", "/var/www"},
		{TypeComposer, "/vendor/composer/installed.json", "/"},
		// The file itself.
		{TypeMaven, "/app/x.war/WEB-INF/lib/y.jar", "/app/x.war/WEB-INF/lib/y.jar"},
		{TypeGo, "/app/bin/server", "/app/bin/server"},
		{TypeCargo, "/src/tool/Cargo.lock", "/src/tool/Cargo.lock"},
		{TypeNuGet, "/app/Web.deps.json", "/app/Web.deps.json"},
	}
	for _, tt := range tests {
		if got := Scope(tt.typ, tt.path); got != tt.want {
			t.Errorf("Scope(%s, %s) = %q, want %q", tt.typ, tt.path, got, tt.want)
		}
	}
}

// rec is a record of a package as an analyzer reports it.
func rec(typ, name, version, path string, layer int, opts ...func(*Package)) Package {
	p := Package{Type: typ, Name: name, Version: version, Path: path, LayerIndex: layer, Layer: "sha256:" + strings.Repeat(string(rune('0'+layer)), 4)}
	p.PURL = PURL(&p, nil)
	for _, o := range opts {
		o(&p)
	}
	return p
}

func declared(p *Package)    { p.Declared = true }
func lockInImage(p *Package) { p.Declared, p.NeedsInstalled = true, true }
func dev(p *Package)         { p.Dev = true }
func indirect(p *Package)    { p.Indirect = true }
func licensed(l ...string) func(*Package) {
	return func(p *Package) { p.Licenses = l }
}

func TestConsolidate(t *testing.T) {
	tests := []struct {
		name string
		in   []Package
		want []Package
	}{{
		name: "installed and in the project's lock file: one package, installed copy first, the lock's dev flag",
		in: []Package{
			rec(TypeNPM, "b", "2.0.0", "/app/package-lock.json", 1, lockInImage, dev, licensed("MIT")),
			rec(TypeNPM, "b", "2.0.0", "/app/node_modules/b/package.json", 2, licensed("MIT", "Apache-2.0")),
		},
		want: []Package{func() Package {
			p := rec(TypeNPM, "b", "2.0.0", "/app/node_modules/b/package.json", 2, dev, licensed("MIT", "Apache-2.0"))
			p.Locations = []Location{
				{Path: "/app/node_modules/b/package.json", Layer: "sha256:2222", LayerIndex: 2},
				{Path: "/app/package-lock.json", Layer: "sha256:1111", LayerIndex: 1},
			}
			return p
		}()},
	}, {
		name: "two installed copies in one tree: the earliest layer, then the shallowest path, is primary",
		in: []Package{
			rec(TypeNPM, "qs", "6.5.0", "/app/node_modules/x/node_modules/qs/package.json", 1),
			rec(TypeNPM, "qs", "6.5.0", "/app/node_modules/qs/package.json", 1),
			rec(TypeNPM, "qs", "6.5.0", "/app/node_modules/y/node_modules/qs/package.json", 0),
		},
		want: []Package{func() Package {
			p := rec(TypeNPM, "qs", "6.5.0", "/app/node_modules/y/node_modules/qs/package.json", 0)
			p.Locations = []Location{
				{Path: "/app/node_modules/y/node_modules/qs/package.json", Layer: "sha256:0000", LayerIndex: 0},
				{Path: "/app/node_modules/qs/package.json", Layer: "sha256:1111", LayerIndex: 1},
				{Path: "/app/node_modules/x/node_modules/qs/package.json", Layer: "sha256:1111", LayerIndex: 1},
			}
			return p
		}()},
	}, {
		name: "lock entries in an image without an installed copy are dropped; in a project directory they stay",
		in: []Package{
			rec(TypeNPM, "c", "3.0.0", "/app/package-lock.json", 1, lockInImage),
			rec(TypeNPM, "q", "1.0.0", "/srv/package-lock.json", 1, declared),
			rec(TypeNPM, "q", "1.0.0", "/srv/yarn.lock", 1, declared, dev),
		},
		want: []Package{func() Package {
			p := rec(TypeNPM, "q", "1.0.0", "/srv/package-lock.json", 1, declared)
			p.Locations = []Location{
				{Path: "/srv/package-lock.json", Layer: "sha256:1111", LayerIndex: 1},
				{Path: "/srv/yarn.lock", Layer: "sha256:1111", LayerIndex: 1},
			}
			return p
		}()},
	}, {
		name: "the same package in two projects, or another version: separate packages",
		in: []Package{
			rec(TypeNPM, "a", "1.0.0", "/one/node_modules/a/package.json", 1),
			rec(TypeNPM, "a", "1.0.0", "/two/node_modules/a/package.json", 1),
			rec(TypeNPM, "a", "1.0.1", "/one/package-lock.json", 1, lockInImage),
			rec(TypeMaven, "g:a", "1.0", "/srv/one/lib/a-1.0.jar", 1),
			rec(TypeMaven, "g:a", "1.0", "/srv/two/lib/a-1.0.jar", 1),
		},
		want: []Package{
			rec(TypeNPM, "a", "1.0.0", "/one/node_modules/a/package.json", 1),
			rec(TypeNPM, "a", "1.0.0", "/two/node_modules/a/package.json", 1),
			rec(TypeMaven, "g:a", "1.0", "/srv/one/lib/a-1.0.jar", 1),
			rec(TypeMaven, "g:a", "1.0", "/srv/two/lib/a-1.0.jar", 1),
		},
	}, {
		name: "listed twice in one file, dev in one place only: one location, not dev",
		in: []Package{
			rec(TypeNPM, "d", "1.0.0", "/app/package-lock.json", 1, declared, dev, indirect),
			rec(TypeNPM, "d", "1.0.0", "/app/package-lock.json", 1, declared, indirect),
		},
		want: []Package{rec(TypeNPM, "d", "1.0.0", "/app/package-lock.json", 1, declared, indirect)},
	}, {
		name: "owner and metadata gathered from every record",
		in: []Package{
			rec(TypeComposer, "acme/x", "1.0.0", "/www/composer.lock", 1, lockInImage, func(p *Package) { p.Meta = map[string]string{"a": "lock", "b": "lock"} }),
			rec(TypeComposer, "acme/x", "1.0.0", "/www/vendor/composer/installed.json", 1, func(p *Package) {
				p.Meta = map[string]string{"a": "installed"}
				p.OwnedBy = "deb:php-acme"
			}),
		},
		want: []Package{func() Package {
			p := rec(TypeComposer, "acme/x", "1.0.0", "/www/vendor/composer/installed.json", 1)
			p.Meta = map[string]string{"a": "installed", "b": "lock"}
			p.OwnedBy = "deb:php-acme"
			p.Locations = []Location{
				{Path: "/www/vendor/composer/installed.json", Layer: "sha256:1111", LayerIndex: 1},
				{Path: "/www/composer.lock", Layer: "sha256:1111", LayerIndex: 1},
			}
			return p
		}()},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Consolidate(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// Consolidating again changes nothing.
			if diff := cmp.Diff(got, Consolidate(got)); diff != "" {
				t.Errorf("not idempotent (-once +twice):\n%s", diff)
			}
		})
	}
}
