// Package apk reads the database of Alpine's package manager,
// lib/apk/db/installed (usr/lib/apk/db/installed with apk-tools 3): the
// installed packages, their origin (source) package, licence and files.
package apk

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

// Caps. A big Alpine system's database is a few MB.
const (
	maxSize = 64 << 20
	maxLine = 1 << 20
)

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed apk database")

// Analyzer reads the apk database.
type Analyzer struct{}

// New returns the apk analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "apk" }

// Version implements analyze.Analyzer.
func (*Analyzer) Version() int { return 1 }

// Required implements analyze.Analyzer.
func (*Analyzer) Required(p string, info analyze.FileInfo) bool {
	return (p == "lib/apk/db/installed" || p == "usr/lib/apk/db/installed") && info.Size <= maxSize
}

// Analyze implements analyze.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	b, err := f.ReadAll()
	if err != nil {
		return nil, err
	}
	pkgs, err := Parse(b)
	if err != nil || len(pkgs) == 0 {
		return nil, err
	}
	return &analyze.Result{Packages: pkgs}, nil
}

// Parse reads an apk "installed" database: stanzas of "K:value" lines
// separated by blank lines. It uses P (name), V (version), A (arch), o
// (origin, the source package), L (licence, kept as written) and the
// file list, F (a directory, relative to the root) followed by R (a file
// in it). Stanzas without a name or a version are skipped, as apk does.
// Files are returned as absolute paths in Package.Files.
func Parse(b []byte) ([]inventory.Package, error) {
	var pkgs []inventory.Package
	var cur inventory.Package
	dir := ""
	flush := func() {
		if cur.Name != "" && cur.Version != "" {
			cur.Type = inventory.TypeAPK
			if cur.SourceName == "" {
				cur.SourceName = cur.Name
			}
			cur.SourceVersion = cur.Version
			pkgs = append(pkgs, cur)
		}
		cur, dir = inventory.Package{}, ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			flush()
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			return nil, fmt.Errorf("%w: line %d: %q is not a \"K:value\" field", ErrMalformed, n, truncate(line))
		}
		v := line[2:]
		switch line[0] {
		case 'P':
			cur.Name = v
		case 'V':
			cur.Version = v
		case 'A':
			cur.Arch = v
		case 'o':
			cur.SourceName = v
		case 'L':
			if v != "" {
				cur.Licenses = []string{v}
			}
		case 'F':
			d, err := cleanRel(v)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: directory %q: %w", ErrMalformed, n, truncate(v), err)
			}
			dir = d
		case 'R':
			if v == "" || v == "." || v == ".." || strings.Contains(v, "/") {
				return nil, fmt.Errorf("%w: line %d: file name %q", ErrMalformed, n, truncate(v))
			}
			cur.Files = append(cur.Files, "/"+path.Join(dir, v))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	flush()
	return pkgs, nil
}

// cleanRel checks a database directory: relative, inside the root.
func cleanRel(d string) (string, error) {
	if strings.HasPrefix(d, "/") {
		return "", errors.New("absolute")
	}
	c := path.Clean(d)
	if c == "." {
		return "", nil
	}
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", errors.New("outside the root")
	}
	return c, nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
