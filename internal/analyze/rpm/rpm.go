// Package rpm reads rpm package databases: Berkeley DB
// (var/lib/rpm/Packages, rpm up to 4.15), NDB (Packages.db, SUSE) and
// SQLite (rpmdb.sqlite, rpm 4.16+), under var/lib/rpm or
// usr/lib/sysimage/rpm. The format is recognised from the content.
//
// SQLite databases are read with go-rpmdb (and the pure-Go SQLite it
// uses) from a temporary copy; Berkeley DB and NDB files are read
// directly, with every offset, length and page chain checked, because
// go-rpmdb's readers for them run in goroutines where a malformed file
// can crash the process or make it loop. Package headers of all three
// are parsed by this package, with the same checks.
package rpm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	// The pure-Go SQLite driver go-rpmdb's SQLite reader opens ("sqlite").
	"github.com/knqyf263/go-rpmdb/pkg/sqlite3"
	_ "modernc.org/sqlite"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/rpm/rpmfmt"
	"github.com/drydockscan/drydock/internal/inventory"
)

// maxSize caps the databases read (the rpm database of a big system is
// a few hundred MB in Berkeley DB form).
const maxSize = 512 << 20

// ErrMalformed is wrapped by errors about the database as a whole.
var ErrMalformed = errors.New("malformed rpm database")

// Analyzer reads rpm databases.
type Analyzer struct {
	// TempDir holds the temporary copies of SQLite databases ("" is the
	// system default).
	TempDir string
}

// New returns the rpm analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "rpm" }

// Version implements analyze.Analyzer.
func (*Analyzer) Version() int { return 1 }

// Required implements analyze.Analyzer.
func (*Analyzer) Required(p string, info analyze.FileInfo) bool {
	if info.Size > maxSize {
		return false
	}
	dir, base := path.Split(p)
	if dir != "var/lib/rpm/" && dir != "usr/lib/sysimage/rpm/" {
		return false
	}
	return base == "Packages" || base == "Packages.db" || base == "rpmdb.sqlite"
}

// Analyze implements analyze.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, f *analyze.File) (*analyze.Result, error) {
	pkgs, err := a.Read(ctx, f.Content, f.Size)
	if err != nil || len(pkgs) == 0 {
		return nil, err
	}
	return &analyze.Result{Packages: pkgs}, nil
}

// Read returns the packages of an rpm database of any of the three
// formats. It never panics.
func (a *Analyzer) Read(ctx context.Context, r io.ReaderAt, size int64) (pkgs []inventory.Package, err error) {
	defer func() {
		if p := recover(); p != nil {
			pkgs, err = nil, fmt.Errorf("%w: %v", ErrMalformed, p)
		}
	}()
	var head [16]byte
	if n, _ := r.ReadAt(head[:], 0); n < len(head) {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, n)
	}
	add := func(blob []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := rpmfmt.ReadHeader(blob)
		if err != nil {
			return err
		}
		if p, ok := toPackage(info); ok {
			pkgs = append(pkgs, p)
		}
		return nil
	}
	switch {
	case bytes.Equal(head[:], []byte("SQLite format 3\x00")):
		err = a.sqliteEach(r, size, add)
	case string(head[:4]) == "RpmP":
		err = rpmfmt.EachNDB(r, size, add)
	default:
		err = rpmfmt.EachBDB(r, size, add)
	}
	if err != nil {
		return nil, err
	}
	return pkgs, nil
}

// sqliteEach copies the database to a private temporary directory (the
// SQLite library opens files by name and may write a journal next to
// them) and reads every header with go-rpmdb.
func (a *Analyzer) sqliteEach(r io.ReaderAt, size int64, fn func([]byte) error) error {
	if size > maxSize {
		return fmt.Errorf("%w: %d bytes", ErrMalformed, size)
	}
	dir, err := os.MkdirTemp(a.TempDir, "drydock-rpmdb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, "rpmdb.sqlite")
	out, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, io.NewSectionReader(r, 0, size))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copying the database: %w", err)
	}
	db, err := sqlite3.Open(name)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	defer db.Close()
	// Drain every entry so that go-rpmdb's reading goroutine ends.
	var first error
	for e := range db.Read() {
		if first != nil {
			continue
		}
		if e.Err != nil {
			first = fmt.Errorf("%w: %w", ErrMalformed, e.Err)
			continue
		}
		first = fn(e.Value)
	}
	return first
}

// toPackage applies drydock's conventions: "E:V-R" versions (the epoch
// only when not zero, as rpm prints them), the source package name and
// version from SOURCERPM ("name-version-release.src.rpm"), the licence
// as written, absolute file paths. gpg-pubkey entries (imported keys)
// are not packages.
func toPackage(p *rpmfmt.Package) (inventory.Package, bool) {
	if p.Name == "gpg-pubkey" {
		return inventory.Package{}, false
	}
	epoch := ""
	if p.Epoch != nil && *p.Epoch != 0 {
		epoch = strconv.Itoa(int(*p.Epoch)) + ":"
	}
	vr := p.Version
	if p.Release != "" {
		vr += "-" + p.Release
	}
	pkg := inventory.Package{
		Type:          inventory.TypeRPM,
		Name:          p.Name,
		Version:       epoch + vr,
		Arch:          p.Arch,
		SourceName:    p.Name,
		SourceVersion: epoch + vr,
		Files:         p.Files,
	}
	if name, v, r, ok := SplitSourceRPM(p.SourceRPM); ok {
		pkg.SourceName, pkg.SourceVersion = name, epoch+v+"-"+r
	}
	if p.License != "" {
		pkg.Licenses = []string{p.License}
	}
	return pkg, true
}

// SplitSourceRPM splits a source RPM file name
// ("openssl-3.0.7-27.el9.src.rpm") into name, version and release.
func SplitSourceRPM(s string) (name, version, release string, ok bool) {
	s, ok = strings.CutSuffix(s, ".src.rpm")
	if !ok {
		if s, ok = strings.CutSuffix(s, ".nosrc.rpm"); !ok {
			return "", "", "", false
		}
	}
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return "", "", "", false
	}
	j := strings.LastIndexByte(s[:i], '-')
	if j <= 0 || j+1 == i || i+1 == len(s) {
		return "", "", "", false
	}
	return s[:j], s[j+1 : i], s[i+1:], true
}
