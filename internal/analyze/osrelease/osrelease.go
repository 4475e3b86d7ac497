// Package osrelease identifies the operating system from os-release and the
// distributions' own release files.
package osrelease

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

// maxSize caps release files; real ones are a few hundred bytes.
const maxSize = 64 << 10

// Analyzer reads OS release files.
type Analyzer struct{}

// New returns the OS release analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "os-release" }

// Version implements analyze.Analyzer.
func (*Analyzer) Version() int { return 1 }

var files = map[string]bool{
	"etc/os-release":     true,
	"usr/lib/os-release": true,
	"etc/alpine-release": true,
	"etc/debian_version": true,
	"etc/redhat-release": true,
	"etc/centos-release": true,
	"etc/system-release": true,
	"etc/SuSE-release":   true,
	"etc/lsb-release":    true,
}

// Required implements analyze.Analyzer.
func (*Analyzer) Required(path string, info analyze.FileInfo) bool {
	return files[path] && info.Size <= maxSize
}

// Analyze implements analyze.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	b, err := f.ReadAll()
	if err != nil {
		return nil, err
	}
	var o *inventory.OS
	switch f.Path {
	case "etc/os-release", "usr/lib/os-release":
		o, err = ParseOSRelease(b)
	case "etc/alpine-release":
		o = &inventory.OS{ID: "alpine", Version: firstLine(b), VersionID: firstLine(b)}
	case "etc/debian_version":
		o = parseDebianVersion(b)
	case "etc/lsb-release":
		o = parseLSB(b)
	default:
		o = parseRedHatStyle(b)
	}
	if err != nil {
		return nil, err
	}
	if o == nil || o.ID == "" {
		return nil, nil
	}
	o.Source = "/" + f.Path
	return &analyze.Result{OS: o}, nil
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return strings.TrimSpace(string(line))
}

// ParseOSRelease parses the os-release format: KEY=value lines, values
// optionally quoted with shell quoting rules.
func ParseOSRelease(b []byte) (*inventory.OS, error) {
	fields := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxSize)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\"'") {
			return nil, fmt.Errorf("line %d: not KEY=value", n)
		}
		fields[k] = unquote(v)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	o := &inventory.OS{
		ID:         strings.ToLower(fields["ID"]),
		VersionID:  fields["VERSION_ID"],
		Codename:   fields["VERSION_CODENAME"],
		PrettyName: fields["PRETTY_NAME"],
	}
	if o.ID == "" {
		o.ID = "linux"
	}
	if v := fields["ID_LIKE"]; v != "" {
		o.IDLike = strings.Fields(strings.ToLower(v))
	}
	if o.Codename == "" && o.ID == "ubuntu" {
		o.Codename = fields["UBUNTU_CODENAME"]
	}
	return o, nil
}

func unquote(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		if v[0] == '"' {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
		}
		return v[1 : len(v)-1]
	}
	return v
}

var debianNumeric = regexp.MustCompile(`^(\d+)(\.\d+)*$`)

// parseDebianVersion reads /etc/debian_version: "12.15" on stable
// releases, "trixie/sid" on testing.
func parseDebianVersion(b []byte) *inventory.OS {
	v := firstLine(b)
	if v == "" {
		return nil
	}
	o := &inventory.OS{ID: "debian", Version: v}
	if debianNumeric.MatchString(v) {
		o.VersionID, _, _ = strings.Cut(v, ".")
	}
	return o
}

func parseLSB(b []byte) *inventory.OS {
	o, err := ParseOSRelease(b)
	if err != nil {
		return nil
	}
	fields := map[string]string{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			fields[k] = unquote(v)
		}
	}
	return &inventory.OS{
		ID:         strings.ToLower(fields["DISTRIB_ID"]),
		VersionID:  fields["DISTRIB_RELEASE"],
		Codename:   fields["DISTRIB_CODENAME"],
		PrettyName: fields["DISTRIB_DESCRIPTION"],
		IDLike:     o.IDLike,
	}
}

var redHatStyle = regexp.MustCompile(`^(.*?) release (\d[\w.]*)`)

// parseRedHatStyle reads "<Name> release <version> (<codename>)" files.
func parseRedHatStyle(b []byte) *inventory.OS {
	line := firstLine(b)
	m := redHatStyle.FindStringSubmatch(line)
	if m == nil {
		return nil
	}
	name := strings.ToLower(m[1])
	var id string
	switch {
	case strings.Contains(name, "red hat"):
		id = "rhel"
	case strings.Contains(name, "centos"):
		id = "centos"
	case strings.Contains(name, "rocky"):
		id = "rocky"
	case strings.Contains(name, "alma"):
		id = "almalinux"
	case strings.Contains(name, "oracle"):
		id = "ol"
	case strings.Contains(name, "fedora"):
		id = "fedora"
	case strings.Contains(name, "amazon"):
		id = "amzn"
	case strings.Contains(name, "suse"):
		id = "sles"
	default:
		return nil
	}
	return &inventory.OS{ID: id, VersionID: m[2], PrettyName: line}
}
