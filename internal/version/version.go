// Package version orders package versions the way each ecosystem's own
// tooling does: dpkg for Debian and Ubuntu, apk for Alpine, Wolfi and
// Chainguard, rpm for the RPM distributions, Go module semver, SemVer 2.0
// (npm, crates.io), PEP 440 (PyPI), Maven's ComparableVersion, RubyGems'
// Gem::Version, NuGet and Composer. It also evaluates OSV affected ranges
// (Affected).
//
// Every comparer works on the version strings directly and allocates
// nothing on the common path: the matcher calls Compare many thousands of
// times per scan.
package version

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Comparer orders versions of one scheme.
type Comparer interface {
	// Compare returns -1, 0 or +1 as a sorts before, the same as, or after
	// b. It returns an error wrapping ErrInvalid if either string is not a
	// version of the scheme.
	Compare(a, b string) (int, error)
}

// ErrInvalid is wrapped by every error reporting a string that is not a
// version of the scheme asked for.
var ErrInvalid = errors.New("invalid version")

// InvalidError reports a string that is not a version of Scheme.
type InvalidError struct {
	Scheme  string // scheme name, e.g. "dpkg"
	Version string // the offending string (truncated to 128 bytes)
	Reason  string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("%s version %q: %s", e.Scheme, e.Version, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

func invalid(scheme, v, reason string) error {
	if len(v) > 128 {
		v = v[:128] + "…"
	}
	return &InvalidError{Scheme: scheme, Version: v, Reason: reason}
}

// Validate reports whether v is a version c can order: it returns nil or
// an error wrapping ErrInvalid.
func Validate(c Comparer, v string) error {
	_, err := c.Compare(v, v)
	return err
}

// For returns the comparer for an OSV ecosystem name such as "PyPI",
// "Debian:12", "Alpine:v3.19" or "Red Hat:enterprise_linux:9::appstream";
// anything from the first ':' on is a release or repository qualifier
// and is ignored. It reports false for ecosystems it does not know.
//
// The switch below is the one list of ecosystems and their schemes.
func For(ecosystem string) (Comparer, bool) {
	if i := strings.IndexByte(ecosystem, ':'); i >= 0 {
		ecosystem = ecosystem[:i]
	}
	switch ecosystem {
	case "Go":
		return Go{}, true
	case "npm", "crates.io", "SwiftURL":
		return SemVer{}, true
	case "PyPI":
		return PEP440{}, true
	case "Maven":
		return Maven{}, true
	case "RubyGems":
		return RubyGems{}, true
	case "NuGet":
		return NuGet{}, true
	case "Packagist":
		return Composer{}, true
	case "Debian", "Ubuntu":
		return Dpkg{}, true
	case "Alpine", "Wolfi", "Chainguard", "MinimOS", "Alpaquita":
		return APK{}, true
	case "Red Hat", "AlmaLinux", "Rocky Linux", "CentOS", "Fedora",
		"Oracle Linux", "Amazon Linux", "SUSE", "openSUSE", "openEuler",
		"Mageia", "Photon OS", "Azure Linux", "CBL-Mariner":
		return RPM{}, true
	}
	return nil, false
}

// Helpers shared by the schemes.

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isAlpha(c byte) bool { return isLower(c) || isUpper(c) }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

func lower(c byte) byte {
	if isUpper(c) {
		return c + 'a' - 'A'
	}
	return c
}

// allDigits reports whether s is a non-empty run of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// digitsEnd returns the index of the first non-digit in s at or after i.
func digitsEnd(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// cmpNum compares two runs of ASCII digits by numeric value, whatever
// their length; an empty run counts as zero.
func cmpNum[T ~string | ~[]byte](a, b T) int {
	for len(a) > 0 && a[0] == '0' {
		a = a[1:]
	}
	for len(b) > 0 && b[0] == '0' {
		b = b[1:]
	}
	if len(a) != len(b) {
		return cmpInt(len(a), len(b))
	}
	for i := range len(a) {
		if a[i] != b[i] {
			return cmpInt(int(a[i]), int(b[i]))
		}
	}
	return 0
}

// cmpFold compares two ASCII strings ignoring case.
func cmpFold(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := lower(a[i]), lower(b[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return cmpInt(len(a), len(b))
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func sign(n int) int { return cmpInt(n, 0) }

// cmpFoldUTF8 compares two strings rune by rune after lower-casing.
func cmpFoldUTF8(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		ra, rb = unicode.ToLower(ra), unicode.ToLower(rb)
		if ra != rb {
			return cmpInt(int(ra), int(rb))
		}
		a, b = a[na:], b[nb:]
	}
	return boolCmp(a != "", b != "")
}
