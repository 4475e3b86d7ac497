// Package java identifies Java archives (.jar, .war, .ear and the plugin
// formats built on them) and the archives nested inside them: Maven
// coordinates from META-INF/maven/**/pom.properties, and from the
// manifest and the file name when an archive has no pom.properties.
//
// Nested archives (WEB-INF/lib/*.jar, BOOT-INF/lib/*.jar, lib/*.jar, …)
// are read in memory, recursively, within caps on depth, entry count and
// uncompressed bytes. Their packages carry the path
// "/<outer>/<entry>[/<entry>…]", e.g. "/app/x.war/WEB-INF/lib/y.jar".
package java

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

// Limits bound the work spent on one archive, nested archives included.
type Limits struct {
	// MaxDepth is how deep archives may nest below the analysed file.
	MaxDepth int
	// MaxEntries caps the entries of one archive.
	MaxEntries int
	// MaxNestedSize caps the uncompressed size of one nested archive.
	MaxNestedSize int64
	// MaxTotal caps the uncompressed bytes read from one file, all
	// nesting levels together.
	MaxTotal int64
	// MaxManifest is how much of a manifest is read; the rest is
	// ignored. Attributes longer than MaxManifestLine are ignored.
	MaxManifest     int64
	MaxManifestLine int
	// MaxProperties caps a pom.properties file; bigger ones are ignored.
	MaxProperties int64
}

// DefaultLimits allow every real archive seen in practice (an EAR holding
// WARs holding JARs is three levels deep).
var DefaultLimits = Limits{
	MaxDepth:        5,
	MaxEntries:      1 << 18,
	MaxNestedSize:   256 << 20,
	MaxTotal:        1 << 30,
	MaxManifest:     1 << 20,
	MaxManifestLine: 64 << 10,
	MaxProperties:   64 << 10,
}

// maxFileSize caps the archives offered to the analyzer.
const maxFileSize = 1 << 30

// Meta keys.
const (
	// MetaIdentifiedBy says where the coordinates come from:
	// "pom.properties", "manifest" or "filename".
	MetaIdentifiedBy = "identified_by"
	// MetaPomProperties is the entry the coordinates were read from.
	MetaPomProperties = "pom_properties"
)

// Errors.
var (
	ErrMalformed = errors.New("malformed java archive")
	ErrLimit     = errors.New("java archive over a limit")
)

// Analyzer reads Java archives.
type Analyzer struct {
	Limits Limits
}

// New returns the Java archive analyzer with the default limits.
func New() *Analyzer { return &Analyzer{Limits: DefaultLimits} }

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "java" }

// Version implements analyze.Analyzer.
func (*Analyzer) Version() int { return 1 }

// archiveExts are the zip-based Java archive formats: library, web, and
// enterprise archives, JBoss/Spring .par and .sar, Jenkins plugins.
var archiveExts = []string{".jar", ".war", ".ear", ".par", ".sar", ".jpi", ".hpi"}

// IsArchive reports whether the name has a Java archive extension, in
// any letter case, without allocating.
func IsArchive(name string) bool {
	if len(name) < 5 {
		return false
	}
	ext := name[len(name)-4:]
	for _, e := range archiveExts {
		if strings.EqualFold(ext, e) {
			return true
		}
	}
	return false
}

// Required implements analyze.Analyzer.
func (*Analyzer) Required(p string, info analyze.FileInfo) bool {
	return info.Size <= maxFileSize && IsArchive(p)
}

// Analyze implements analyze.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, f *analyze.File) (*analyze.Result, error) {
	s := &scan{ctx: ctx, lim: a.Limits, root: "/" + f.Path}
	if s.lim == (Limits{}) {
		s.lim = DefaultLimits
	}
	zr, err := zip.NewReader(f.Content, f.Size)
	if err != nil {
		// A file with a Java archive name that is no zip at all (a
		// stub, a placeholder) is not worth an error.
		if errors.Is(err, zip.ErrFormat) && !looksLikeZip(f.Content) {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := s.archive(zr, path.Base(f.Path), "", 0); err != nil {
		return nil, err
	}
	if len(s.pkgs) == 0 {
		return nil, nil
	}
	return &analyze.Result{Packages: s.pkgs}, nil
}

func looksLikeZip(r io.ReaderAt) bool {
	var b [4]byte
	n, _ := r.ReadAt(b[:], 0)
	return n == 4 && string(b[:]) == "PK\x03\x04"
}

// scan is the state of one file's analysis.
type scan struct {
	ctx context.Context
	lim Limits
	// root is the analysed file's absolute path.
	root string
	read int64
	pkgs []inventory.Package
}

// archive reads one archive. name is its file name (for the file-name
// fallback), inner the path below the analysed file ("" for the file
// itself, else "/WEB-INF/lib/x.jar…").
func (s *scan) archive(zr *zip.Reader, name, inner string, depth int) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	where := "archive"
	if inner != "" {
		where = "nested archive " + strings.TrimPrefix(inner, "/")
	}
	if len(zr.File) > s.lim.MaxEntries {
		return fmt.Errorf("%w: %s has %d entries (limit %d)", ErrLimit, where, len(zr.File), s.lim.MaxEntries)
	}
	var manifest *zip.File
	found := false
	var nested []*zip.File
	for _, zf := range zr.File {
		switch {
		case zf.Name == "META-INF/MANIFEST.MF":
			manifest = zf
		case strings.HasPrefix(zf.Name, "META-INF/maven/") && strings.HasSuffix(zf.Name, "/pom.properties"):
			p, ok, err := s.pomProperties(zf, inner)
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			if ok {
				s.pkgs = append(s.pkgs, p)
				found = true
			}
		case IsArchive(zf.Name) && !zf.FileInfo().IsDir():
			nested = append(nested, zf)
		}
	}
	if !found {
		var attrs map[string]string
		if manifest != nil {
			var err error
			if attrs, err = s.manifest(manifest); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		if p, ok := fromManifest(name, attrs); ok {
			p.Path = s.path(inner)
			s.pkgs = append(s.pkgs, p)
		}
	}
	for _, zf := range nested {
		if depth+1 > s.lim.MaxDepth {
			return fmt.Errorf("%w: %s/%s nests archives more than %d levels deep", ErrLimit, strings.TrimPrefix(inner, "/"), zf.Name, s.lim.MaxDepth)
		}
		b, err := s.readEntry(zf, s.lim.MaxNestedSize)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		sub, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			// Not every *.jar entry is a zip (test fixtures, stubs).
			continue
		}
		if err := s.archive(sub, path.Base(zf.Name), inner+"/"+zf.Name, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// path is the Package.Path of an archive: empty for the analysed file
// (the walker fills it in), "/<file>/<entry>…" for nested ones.
func (s *scan) path(inner string) string {
	if inner == "" {
		return ""
	}
	return s.root + inner
}

// readEntry decompresses one entry, refusing more than max bytes and
// counting against the file's total.
func (s *scan) readEntry(zf *zip.File, max int64) ([]byte, error) {
	if zf.UncompressedSize64 > uint64(max) {
		return nil, fmt.Errorf("%w: entry %s declares %d bytes (limit %d)", ErrLimit, zf.Name, zf.UncompressedSize64, max)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: entry %s: %w", ErrMalformed, zf.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: entry %s: %w", ErrMalformed, zf.Name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: entry %s inflates past %d bytes", ErrLimit, zf.Name, max)
	}
	s.read += int64(len(b))
	if s.read > s.lim.MaxTotal {
		return nil, fmt.Errorf("%w: more than %d uncompressed bytes in nested entries", ErrLimit, s.lim.MaxTotal)
	}
	return b, nil
}

// pomProperties reads META-INF/maven/<group>/<artifact>/pom.properties.
// ok is false for files without usable coordinates (unresolved
// ${placeholders}, missing keys) or over the size cap.
func (s *scan) pomProperties(zf *zip.File, inner string) (inventory.Package, bool, error) {
	if zf.UncompressedSize64 > uint64(s.lim.MaxProperties) {
		return inventory.Package{}, false, nil
	}
	b, err := s.readEntry(zf, s.lim.MaxProperties)
	if errors.Is(err, ErrLimit) {
		return inventory.Package{}, false, nil
	}
	if err != nil {
		return inventory.Package{}, false, err
	}
	props := ParseProperties(b)
	g, a, v := props["groupId"], props["artifactId"], props["version"]
	if g == "" || a == "" || v == "" || strings.Contains(g+a+v, "${") {
		return inventory.Package{}, false, nil
	}
	return inventory.Package{
		Type:    inventory.TypeMaven,
		Name:    g + ":" + a,
		Version: v,
		Path:    s.path(inner),
		Meta:    map[string]string{MetaIdentifiedBy: "pom.properties", MetaPomProperties: zf.Name},
	}, true, nil
}

// manifest reads the main section of META-INF/MANIFEST.MF, at most
// MaxManifest bytes of it.
func (s *scan) manifest(zf *zip.File) (map[string]string, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: entry %s: %w", ErrMalformed, zf.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, s.lim.MaxManifest))
	if err != nil {
		return nil, fmt.Errorf("%w: entry %s: %w", ErrMalformed, zf.Name, err)
	}
	s.read += int64(len(b))
	return ParseManifest(b, s.lim.MaxManifestLine), nil
}

// ParseProperties reads a Java properties file: "key=value", "key: value"
// or "key value" lines, # and ! comments, backslash continuations.
func ParseProperties(b []byte) map[string]string {
	out := map[string]string{}
	var logical strings.Builder
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if logical.Len() == 0 {
			line = strings.TrimLeft(line, " \t\f")
			if line == "" || line[0] == '#' || line[0] == '!' {
				continue
			}
		} else {
			line = strings.TrimLeft(line, " \t\f")
		}
		if n := trailingBackslashes(line); n%2 == 1 {
			logical.WriteString(line[:len(line)-1])
			continue
		}
		logical.WriteString(line)
		k, v := splitProperty(logical.String())
		logical.Reset()
		if k != "" {
			out[k] = v
		}
	}
	return out
}

func trailingBackslashes(s string) int {
	n := 0
	for n < len(s) && s[len(s)-1-n] == '\\' {
		n++
	}
	return n
}

func splitProperty(line string) (string, string) {
	i := strings.IndexAny(line, "=: \t")
	if i < 0 {
		return line, ""
	}
	k := line[:i]
	rest := strings.TrimLeft(line[i:], " \t")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = rest[1:]
	}
	return k, strings.TrimSpace(rest)
}

// ParseManifest reads the main section of a JAR manifest: "Name: value"
// lines, continuation lines starting with one space, ending at the first
// blank line. Attributes longer than maxLine bytes are ignored.
func ParseManifest(b []byte, maxLine int) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), len(b)+1)
	var key string
	var val strings.Builder
	tooLong := false
	flush := func() {
		if key != "" && !tooLong {
			out[key] = strings.TrimSpace(val.String())
		}
		key, tooLong = "", false
		val.Reset()
	}
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' {
			if key != "" && !tooLong {
				if val.Len()+len(line) > maxLine {
					tooLong = true
					continue
				}
				val.WriteString(line[1:])
			}
			continue
		}
		flush()
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key = strings.TrimSpace(k)
		if len(v) > maxLine {
			tooLong = true
			continue
		}
		val.WriteString(strings.TrimLeft(v, " "))
	}
	flush()
	return out
}

// sameGroupAndArtifact lists well-known artifacts whose Maven Central
// groupId equals their artifactId (the pre-reverse-domain convention of
// Maven 1). A manifest-only jar named after one of them gets that
// group. The list is deliberately explicit: commons-lang3, for one,
// lives in org.apache.commons, so no prefix rule would do.
var sameGroupAndArtifact = map[string]bool{
	"log4j": true, "junit": true, "commons-beanutils": true, "commons-cli": true,
	"commons-codec": true, "commons-collections": true, "commons-daemon": true,
	"commons-dbcp": true, "commons-digester": true, "commons-discovery": true,
	"commons-el": true, "commons-fileupload": true, "commons-httpclient": true,
	"commons-io": true, "commons-jxpath": true, "commons-lang": true,
	"commons-logging": true, "commons-net": true, "commons-pool": true,
	"commons-validator": true, "antlr": true, "aopalliance": true, "asm": true,
	"cglib": true, "dom4j": true, "jaxen": true, "jdom": true, "jline": true,
	"joda-time": true, "oro": true, "xalan": true, "xml-apis": true,
	"xmlpull": true, "xpp3": true, "wsdl4j": true, "ognl": true, "jtidy": true,
	"hsqldb": true, "javassist": true, "velocity": true, "struts": true,
	"avalon-framework": true, "logkit": true, "regexp": true, "jakarta-regexp": true,
}

// fromManifest identifies an archive without pom.properties from its
// manifest attributes and its file name. The artifactId is the file
// name without the version ("log4j-1.2.17.jar" → "log4j"). The version
// is Implementation-Version, else the file name's, else Bundle-Version,
// else Specification-Version. The groupId is, in order:
//
//  1. Implementation-Vendor-Id, which Maven's archiver sets to the
//     project's groupId;
//  2. the artifactId itself for the well-known artifacts whose group is
//     their name (log4j, junit, commons-io, …; sameGroupAndArtifact);
//  3. the prefix of Bundle-SymbolicName or Automatic-Module-Name when
//     that name is "<group>.<artifactId>" (org.yaml.snakeyaml);
//
// and left empty otherwise: the package is then named by its artifactId
// alone rather than by a guessed group.
func fromManifest(fileName string, attrs map[string]string) (inventory.Package, bool) {
	artifact, fileVersion := splitFileName(fileName)
	version := firstOf(attrs["Implementation-Version"], fileVersion, attrs["Bundle-Version"], attrs["Specification-Version"])
	if artifact == "" || version == "" {
		return inventory.Package{}, false
	}
	by := "manifest"
	if firstOf(attrs["Implementation-Version"]) == "" && fileVersion != "" {
		by = "filename"
	}
	group := ""
	switch vid := attrs["Implementation-Vendor-Id"]; {
	case isGroupID(vid):
		group = vid
	case sameGroupAndArtifact[artifact]:
		group = artifact
	default:
		for _, n := range []string{attrs["Bundle-SymbolicName"], attrs["Automatic-Module-Name"]} {
			n, _, _ = strings.Cut(n, ";") // Bundle-SymbolicName: x.y;singleton:=true
			n = strings.TrimSpace(n)
			if g, ok := strings.CutSuffix(n, "."+artifact); ok && isGroupID(g) {
				group = g
				break
			}
		}
	}
	name := artifact
	if group != "" {
		name = group + ":" + artifact
	}
	return inventory.Package{
		Type:    inventory.TypeMaven,
		Name:    name,
		Version: version,
		Meta:    map[string]string{MetaIdentifiedBy: by},
	}, true
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" && !strings.Contains(v, "${") {
			return v
		}
	}
	return ""
}

// isGroupID accepts Maven group ids: dot-separated Java identifiers.
func isGroupID(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for part := range strings.SplitSeq(s, ".") {
		if part == "" {
			return false
		}
		for _, c := range part {
			if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

// splitFileName splits "name-1.2.3.jar" into "name" and "1.2.3": the
// version starts at the first "-" followed by a digit. A name without
// such a part is all artifact.
func splitFileName(base string) (artifact, version string) {
	stem := base
	if i := strings.LastIndexByte(stem, '.'); i >= 0 {
		stem = stem[:i]
	}
	for i := 0; i+1 < len(stem); i++ {
		if stem[i] == '-' && stem[i+1] >= '0' && stem[i+1] <= '9' {
			return stem[:i], stem[i+1:]
		}
	}
	return stem, ""
}
