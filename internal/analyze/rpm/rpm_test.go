package rpm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	rpmdb "github.com/knqyf263/go-rpmdb/pkg"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/rpm/rpmfmt"
	"github.com/drydockscan/drydock/internal/inventory"
)

// queryFormat is the rpm -qa format of testdata/expected.txt.
const queryFormat = `%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t%{LICENSE}[\t%{FILENAMES}]\n`

// fromQuery turns rpm -qa output in queryFormat into the packages the
// analyzer must report, with its documented conventions.
func fromQuery(t testing.TB, out string) []inventory.Package {
	t.Helper()
	var pkgs []inventory.Package
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 7 {
			t.Fatalf("rpm -qa line %q", line)
		}
		if f[0] == "gpg-pubkey" {
			continue
		}
		epoch := ""
		if f[1] != "(none)" && f[1] != "0" {
			epoch = f[1] + ":"
		}
		p := inventory.Package{Type: inventory.TypeRPM, Name: f[0], Version: epoch + f[2] + "-" + f[3], Arch: f[4],
			SourceName: f[0], SourceVersion: epoch + f[2] + "-" + f[3]}
		if f[5] != "(none)" {
			src := strings.TrimSuffix(strings.TrimSuffix(f[5], ".src.rpm"), ".nosrc.rpm")
			i := strings.LastIndex(src, "-")
			j := strings.LastIndex(src[:i], "-")
			p.SourceName, p.SourceVersion = src[:j], epoch+src[j+1:]
		}
		if f[6] != "(none)" && f[6] != "" {
			p.Licenses = []string{f[6]}
		}
		if len(f) > 7 {
			p.Files = f[7:]
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

var sortPkgs = cmpopts.SortSlices(func(a, b inventory.Package) bool { return inventory.ComparePackages(a, b) < 0 })

func readFile(t testing.TB, p string) []inventory.Package {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f := &analyze.File{Path: "var/lib/rpm/" + filepath.Base(p), Size: int64(len(b)), Mode: 0o644, Content: bytes.NewReader(b)}
	res, err := New().Analyze(context.Background(), f)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	if res == nil {
		t.Fatalf("%s: no packages", p)
	}
	return res.Packages
}

// TestGeneratedDatabases reads the three databases testdata/gen.sh made
// with the rpm tools from the same packages; expected.txt is rpm -qa's
// report on the SQLite one.
func TestGeneratedDatabases(t *testing.T) {
	exp, err := os.ReadFile("testdata/expected.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := fromQuery(t, string(exp))
	if len(want) != 3 {
		t.Fatalf("expected.txt lists %d packages", len(want))
	}
	for _, db := range []string{"testdata/rpmdb.sqlite", "testdata/Packages", "testdata/Packages.db"} {
		if diff := cmp.Diff(want, readFile(t, db), sortPkgs); diff != "" {
			t.Errorf("%s (-rpm -qa +got):\n%s", db, diff)
		}
	}
}

// rpmQuery runs the real rpm on a copy of a database (rpm wants a
// writable directory); "" when rpm is not installed.
func rpmQuery(t *testing.T, db string, backend string) string {
	t.Helper()
	bin, err := exec.LookPath("rpm")
	if err != nil {
		return ""
	}
	dir := t.TempDir()
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(db)), b, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-qa", "--dbpath", dir, "--qf", queryFormat}
	if backend != "" {
		args = append([]string{"--define", "_db_backend " + backend}, args...)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("rpm %v: %v", args, err)
	}
	return string(out)
}

// TestAgainstRPM checks the committed databases and real databases of
// CentOS, Fedora, UBI (s390x, big-endian) and CBL-Mariner images (the
// test data of go-rpmdb, in the module cache) against the real rpm.
func TestAgainstRPM(t *testing.T) {
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Skip("rpm not installed")
	}
	dbs := []struct{ path, backend string }{
		{"testdata/rpmdb.sqlite", ""},
		{"testdata/Packages", "bdb_ro"},
	}
	if dir := rpmdbTestdata(t); dir != "" && !testing.Short() {
		for _, d := range []string{"centos5-plain", "centos7-plain", "ubi8-s390x"} {
			dbs = append(dbs, struct{ path, backend string }{filepath.Join(dir, d, "Packages"), "bdb_ro"})
		}
		for _, d := range []string{"fedora35", "cbl-mariner-2.0"} {
			dbs = append(dbs, struct{ path, backend string }{filepath.Join(dir, d, "rpmdb.sqlite"), ""})
		}
	}
	for _, db := range dbs {
		out := rpmQuery(t, db.path, db.backend)
		want := fromQuery(t, out)
		if len(want) == 0 {
			t.Errorf("%s: rpm lists no packages", db.path)
			continue
		}
		if diff := cmp.Diff(want, readFile(t, db.path), sortPkgs); diff != "" {
			t.Errorf("%s (-rpm -qa +got):\n%s", db.path, diff)
		}
	}
}

// rpmdbTestdata finds go-rpmdb's test databases in the module cache.
func rpmdbTestdata(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/knqyf263/go-rpmdb").Output()
	if err != nil {
		t.Logf("go-rpmdb module not found: %v", err)
		return ""
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata")
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

// TestNDBAgainstGoRPMDB reads a real SUSE NDB database (go-rpmdb's
// sle15-bci test data) and compares with go-rpmdb, the only other NDB
// reader at hand (Debian's rpm has no ndb backend).
func TestNDBAgainstGoRPMDB(t *testing.T) {
	dir := rpmdbTestdata(t)
	if dir == "" {
		t.Skip("go-rpmdb test data not in the module cache")
	}
	db := filepath.Join(dir, "sle15-bci", "Packages.db")
	h, err := rpmdb.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	list, err := h.ListPackages()
	if err != nil {
		t.Fatal(err)
	}
	var want []inventory.Package
	for _, p := range list {
		info := &rpmfmt.Package{Name: p.Name, Version: p.Version, Release: p.Release, Arch: p.Arch, SourceRPM: p.SourceRpm, License: p.License}
		if p.Epoch != nil {
			e := int32(*p.Epoch)
			info.Epoch = &e
		}
		files, err := p.InstalledFileNames()
		if err != nil {
			t.Fatal(err)
		}
		info.Files = files
		if pkg, ok := toPackage(info); ok {
			want = append(want, pkg)
		}
	}
	if len(want) < 10 {
		t.Fatalf("go-rpmdb lists %d packages", len(want))
	}
	if diff := cmp.Diff(want, readFile(t, db), sortPkgs); diff != "" {
		t.Errorf("(-go-rpmdb +got):\n%s", diff)
	}
}

func TestSplitSourceRPM(t *testing.T) {
	tests := []struct{ in, name, version, release string }{
		{"openssl-3.0.7-27.el9.src.rpm", "openssl", "3.0.7", "27.el9"},
		{"python3-pip-21.3.1-1.fc35.nosrc.rpm", "python3-pip", "21.3.1", "1.fc35"},
		{"a-1-2.src.rpm", "a", "1", "2"},
		{"nodashes.src.rpm", "", "", ""},
		{"a-1.src.rpm", "", "", ""},
		{"a--1.src.rpm", "", "", ""},
		{"a-1-.src.rpm", "", "", ""},
		{"a-1-2.rpm", "", "", ""},
		{"", "", "", ""},
	}
	for _, tt := range tests {
		n, v, r, ok := SplitSourceRPM(tt.in)
		if n != tt.name || v != tt.version || r != tt.release || ok != (tt.name != "") {
			t.Errorf("SplitSourceRPM(%q) = %q %q %q %v", tt.in, n, v, r, ok)
		}
	}
}

// corrupt returns b with bytes at off replaced.
func corrupt(b []byte, off int, with ...byte) []byte {
	c := bytes.Clone(b)
	copy(c[off:], with)
	return c
}

func TestMalformed(t *testing.T) {
	bdb, err := os.ReadFile("testdata/Packages")
	if err != nil {
		t.Fatal(err)
	}
	ndb, err := os.ReadFile("testdata/Packages.db")
	if err != nil {
		t.Fatal(err)
	}
	sqlite, err := os.ReadFile("testdata/rpmdb.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	// The first overflow page of the BDB file, to point a chain at
	// itself.
	ovf := -1
	for p := 4096; p+4096 <= len(bdb); p += 4096 {
		if bdb[p+25] == 7 { // P_OVERFLOW
			ovf = p
			break
		}
	}
	if ovf < 0 {
		t.Fatal("no overflow page in testdata/Packages")
	}
	selfLoop := corrupt(bdb, ovf+16, byte(ovf/4096), 0, 0, 0)
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	tests := []struct {
		name    string
		content []byte
		want    error
	}{
		{"empty", nil, ErrMalformed},
		{"short", []byte("SQLite"), ErrMalformed},
		{"garbage", bytes.Repeat([]byte{0xa5}, 8192), rpmfmt.ErrBDB},
		{"BDB truncated", bdb[:len(bdb)/2], rpmfmt.ErrBDB},
		{"BDB metadata only", bdb[:512], rpmfmt.ErrBDB},
		{"BDB page size", corrupt(bdb, 20, le32(3000)...), rpmfmt.ErrBDB},
		{"BDB last page past the end", corrupt(bdb, 32, le32(1<<30)...), rpmfmt.ErrBDB},
		{"BDB overflow chain loop", selfLoop, rpmfmt.ErrBDB},
		{"BDB item count", corrupt(bdb, 4096+20, 0xff, 0xff), rpmfmt.ErrBDB},
		{"NDB truncated", ndb[:5000], rpmfmt.ErrNDB},
		{"NDB slot pages", corrupt(ndb, 12, le32(4000)...), rpmfmt.ErrNDB},
		{"NDB blob offset", corrupt(ndb, 32+8, le32(0xffffffff)...), rpmfmt.ErrNDB},
		{"NDB blob length", corrupt(ndb, 4096+12, le32(0x7fffffff)...), rpmfmt.ErrNDB},
		{"NDB slot magic", corrupt(ndb, 48, 'X'), rpmfmt.ErrNDB},
		{"NDB header count", corrupt(ndb, 4096+16, 0xff, 0xff, 0xff, 0xff), rpmfmt.ErrHeader},
		{"SQLite truncated", sqlite[:8192], ErrMalformed},
		{"SQLite garbage pages", append(bytes.Clone(sqlite[:100]), bytes.Repeat([]byte{0x5a}, 20000)...), ErrMalformed},
	}
	for _, tt := range tests {
		pkgs, err := New().Read(context.Background(), bytes.NewReader(tt.content), int64(len(tt.content)))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: error %v, want %v (%d packages)", tt.name, err, tt.want, len(pkgs))
		}
	}
}

func TestRequired(t *testing.T) {
	for p, want := range map[string]bool{
		"var/lib/rpm/Packages": true, "var/lib/rpm/Packages.db": true, "var/lib/rpm/rpmdb.sqlite": true,
		"usr/lib/sysimage/rpm/Packages": true, "usr/lib/sysimage/rpm/rpmdb.sqlite": true, "usr/lib/sysimage/rpm/Packages.db": true,
		"var/lib/rpm/Name": false, "var/lib/rpm/rpmdb.sqlite-shm": false, "x/var/lib/rpm/Packages": false,
	} {
		if got := New().Required(p, analyze.FileInfo{Size: 1000}); got != want {
			t.Errorf("Required(%q) = %v, want %v", p, got, want)
		}
	}
}

func benchmarkDB(b *testing.B, p string) {
	content, err := os.ReadFile(p)
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		pkgs, err := New().Read(context.Background(), bytes.NewReader(content), int64(len(content)))
		if err != nil || len(pkgs) == 0 {
			b.Fatal(err)
		}
	}
}

func rpmdbTestdataB(b *testing.B) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/knqyf263/go-rpmdb").Output()
	if err != nil {
		b.Skip(err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata")
}

// BenchmarkCentOS7BDB reads a real CentOS 7 Berkeley DB (16 MB, 145
// packages).
func BenchmarkCentOS7BDB(b *testing.B) {
	benchmarkDB(b, filepath.Join(rpmdbTestdataB(b), "centos7-plain", "Packages"))
}

// BenchmarkFedora35SQLite reads a real Fedora 35 SQLite database.
func BenchmarkFedora35SQLite(b *testing.B) {
	benchmarkDB(b, filepath.Join(rpmdbTestdataB(b), "fedora35", "rpmdb.sqlite"))
}

// BenchmarkSLE15NDB reads a real SUSE NDB database.
func BenchmarkSLE15NDB(b *testing.B) {
	benchmarkDB(b, filepath.Join(rpmdbTestdataB(b), "sle15-bci", "Packages.db"))
}
