package apk

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/inventory"
)

// upstream is the expectation published with testdata/installed (see
// testdata/README.md): name, version, origin, files.
var upstream = []struct {
	name, version, origin string
	files                 []string
}{
	{"musl", "1.1.14-r10", "musl", []string{"lib/libc.musl-x86_64.so.1", "lib/ld-musl-x86_64.so.1"}},
	{"busybox", "1.24.2-r9", "busybox", []string{"bin/busybox", "bin/sh", "etc/securetty", "etc/udhcpd.conf", "etc/logrotate.d/acpid"}},
	{"alpine-baselayout", "3.0.3-r0", "alpine-baselayout", []string{"etc/hosts", "etc/sysctl.conf", "etc/group", "etc/protocols",
		"etc/fstab", "etc/mtab", "etc/profile", "etc/TZ", "etc/shells", "etc/motd", "etc/inittab", "etc/hostname", "etc/modules",
		"etc/services", "etc/shadow", "etc/passwd", "etc/profile.d/color_prompt", "etc/sysctl.d/00-alpine.conf",
		"etc/modprobe.d/i386.conf", "etc/modprobe.d/blacklist.conf", "etc/modprobe.d/aliases.conf", "etc/modprobe.d/kms.conf",
		"etc/crontabs/root", "sbin/mkmntdirs", "var/spool/cron/crontabs"}},
	{"alpine-keys", "1.1-r0", "alpine-keys", []string{"etc/apk/keys/alpine-devel@lists.alpinelinux.org-4d07755e.rsa.pub",
		"etc/apk/keys/alpine-devel@lists.alpinelinux.org-524d27bb.rsa.pub", "etc/apk/keys/alpine-devel@lists.alpinelinux.org-5243ef4b.rsa.pub",
		"etc/apk/keys/alpine-devel@lists.alpinelinux.org-5261cecb.rsa.pub", "etc/apk/keys/alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub"}},
	{"zlib", "1.2.8-r2", "zlib", []string{"lib/libz.so.1.2.8", "lib/libz.so.1"}},
	{"libcrypto1.0", "1.0.2h-r1", "openssl", []string{"lib/libcrypto.so.1.0.0", "usr/bin/c_rehash", "usr/lib/libcrypto.so.1.0.0",
		"usr/lib/engines/libubsec.so", "usr/lib/engines/libatalla.so", "usr/lib/engines/libcapi.so", "usr/lib/engines/libgost.so",
		"usr/lib/engines/libcswift.so", "usr/lib/engines/libchil.so", "usr/lib/engines/libgmp.so", "usr/lib/engines/libnuron.so",
		"usr/lib/engines/lib4758cca.so", "usr/lib/engines/libsureware.so", "usr/lib/engines/libpadlock.so", "usr/lib/engines/libaep.so"}},
	{"libssl1.0", "1.0.2h-r1", "openssl", []string{"lib/libssl.so.1.0.0", "usr/lib/libssl.so.1.0.0"}},
	{"apk-tools", "2.6.7-r0", "apk-tools", []string{"sbin/apk"}},
	{"scanelf", "1.1.6-r0", "pax-utils", []string{"usr/bin/scanelf"}},
	{"musl-utils", "1.1.14-r10", "musl", []string{"sbin/ldconfig", "usr/bin/iconv", "usr/bin/ldd", "usr/bin/getconf", "usr/bin/getent"}},
	{"libc-utils", "0.7-r0", "libc-dev", nil},
	{"pkgconf", "1.6.0-r0", "pkgconf", []string{"usr/bin/pkgconf", "usr/bin/pkg-config", "usr/lib/libpkgconf.so.3.0.0",
		"usr/lib/libpkgconf.so.3", "usr/share/aclocal/pkg.m4"}},
	{"sqlite-libs", "3.26.0-r3", "sqlite", []string{"usr/lib/libsqlite3.so.0", "usr/lib/libsqlite3.so.0.8.6"}},
	{"test", "2.9.11_pre20061021-r2", "test-parent", []string{"usr/lib/libsqlite3.so", "usr/lib/pkgconfig/sqlite3.pc",
		"usr/include/sqlite3ext.h", "usr/include/sqlite3.h"}},
	{"ada-libs", "2.7.4-r0", "ada", []string{"usr/lib/libada.so.2", "usr/lib/libada.so.2.7.4"}},
}

func TestRealDatabase(t *testing.T) {
	b, err := os.ReadFile("testdata/installed")
	if err != nil {
		t.Fatal(err)
	}
	var want []inventory.Package
	for _, u := range upstream {
		p := inventory.Package{Type: inventory.TypeAPK, Name: u.name, Version: u.version, Arch: "x86_64",
			SourceName: u.origin, SourceVersion: u.version}
		for _, f := range u.files {
			p.Files = append(p.Files, "/"+f)
		}
		want = append(want, p)
	}
	res, err := analyzetest.File(t, New(), "lib/apk/db/installed", b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, res.Packages, cmpopts.IgnoreFields(inventory.Package{}, "Licenses")); diff != "" {
		t.Errorf("(-upstream +got):\n%s", diff)
	}
	// Licences are the raw L: fields.
	for _, p := range res.Packages {
		if len(p.Licenses) != 1 || !strings.Contains(string(b), "\nP:"+p.Name+"\n") ||
			!strings.Contains(string(b), "L:"+p.Licenses[0]+"\n") {
			t.Errorf("%s: licences %q", p.Name, p.Licenses)
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
		{name: "no origin, files at the root, CRLF", in: "P:a\r\nV:1-r0\r\nL:MIT AND BSD-2-Clause\r\nR:top\r\nF:usr/./bin/\r\nR:x\r\n\r\n",
			want: []inventory.Package{{Type: "apk", Name: "a", Version: "1-r0", SourceName: "a", SourceVersion: "1-r0",
				Licenses: []string{"MIT AND BSD-2-Clause"}, Files: []string{"/top", "/usr/bin/x"}}}},
		{name: "no trailing blank line", in: "P:a\nV:1\nA:aarch64",
			want: []inventory.Package{{Type: "apk", Name: "a", Version: "1", Arch: "aarch64", SourceName: "a", SourceVersion: "1"}}},
		{name: "several blank lines", in: "\n\nP:a\nV:1\n\n\n\nP:b\nV:2\n\n",
			want: []inventory.Package{{Type: "apk", Name: "a", Version: "1", SourceName: "a", SourceVersion: "1"},
				{Type: "apk", Name: "b", Version: "2", SourceName: "b", SourceVersion: "2"}}},
		{name: "no version", in: "P:a\n\nV:1\n"},
		{name: "empty", in: ""},
		{name: "not a field", in: "P:a\nVersion 1\n", wantErr: true},
		{name: "one character", in: "P\n", wantErr: true},
		{name: "absolute directory", in: "P:a\nV:1\nF:/etc\n", wantErr: true},
		{name: "escaping directory", in: "P:a\nV:1\nF:usr/../../etc\n", wantErr: true},
		{name: "file with a slash", in: "P:a\nV:1\nF:etc\nR:../shadow\n", wantErr: true},
		{name: "empty file name", in: "P:a\nV:1\nR:\n", wantErr: true},
		{name: "dot-dot file name", in: "P:a\nV:1\nF:etc\nR:..\n", wantErr: true},
		{name: "line over the cap", in: "P:" + strings.Repeat("a", maxLine+10) + "\n", wantErr: true},
		{name: "binary garbage", in: "\x00\x01\x02\n", wantErr: true},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v does not wrap ErrMalformed", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestMergeKeepsFiles checks that the files an apk database lists survive
// the merge step and make the OS package the owner of files found by
// other analyzers.
func TestMergeKeepsFiles(t *testing.T) {
	db := "P:py3-yaml\nV:6.0-r0\nF:usr/lib/python3.11/site-packages/PyYAML-6.0.dist-info\nR:METADATA\n\n"
	res, err := Parse([]byte(db))
	if err != nil {
		t.Fatal(err)
	}
	lr := &analyze.LayerResult{
		Entries: []analyze.Entry{
			{Path: "lib/apk/db/installed", Type: analyze.EntryFile},
			{Path: "usr/lib/python3.11/site-packages/PyYAML-6.0.dist-info/METADATA", Type: analyze.EntryFile},
		},
		Files: []analyze.FileResult{
			{Path: "lib/apk/db/installed", Analyzer: "apk", Result: analyze.Result{Packages: res}},
			{Path: "usr/lib/python3.11/site-packages/PyYAML-6.0.dist-info/METADATA", Analyzer: "python",
				Result: analyze.Result{Packages: []inventory.Package{{Type: inventory.TypePyPI, Name: "PyYAML", Version: "6.0",
					Path: "/usr/lib/python3.11/site-packages/PyYAML-6.0.dist-info/METADATA"}}}},
		},
	}
	m := analyze.Merge([]*analyze.LayerResult{lr}, []inventory.Layer{{DiffID: "sha256:x"}})
	var apkFiles []string
	owned := ""
	for _, p := range m.Inventory.Packages {
		switch p.Type {
		case inventory.TypeAPK:
			apkFiles = p.Files
		case inventory.TypePyPI:
			owned = p.OwnedBy
		}
	}
	if diff := cmp.Diff([]string{"/usr/lib/python3.11/site-packages/PyYAML-6.0.dist-info/METADATA"}, apkFiles); diff != "" {
		t.Errorf("apk files after merge (-want +got):\n%s", diff)
	}
	if owned != "apk:py3-yaml" {
		t.Errorf("PyYAML owned by %q, want apk:py3-yaml", owned)
	}
}

func TestRequired(t *testing.T) {
	for p, want := range map[string]bool{
		"lib/apk/db/installed": true, "usr/lib/apk/db/installed": true, "lib/apk/db/triggers": false, "x/lib/apk/db/installed": false,
	} {
		if got := New().Required(p, analyze.FileInfo{Size: 100}); got != want {
			t.Errorf("Required(%q) = %v, want %v", p, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	b, err := os.ReadFile("testdata/installed")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("P:a\nV:1\nF:usr\nR:x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Parse(b)
		if err != nil && pkgs != nil {
			t.Fatal("packages and error")
		}
		for _, p := range pkgs {
			for _, file := range p.Files {
				if !strings.HasPrefix(file, "/") || strings.Contains(file, "/../") || strings.HasSuffix(file, "/..") {
					t.Fatalf("%s: unsafe file %q", p.Name, file)
				}
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	content, err := os.ReadFile("testdata/installed")
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
