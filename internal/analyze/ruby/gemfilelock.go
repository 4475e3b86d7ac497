package ruby

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/drydockscan/drydock/internal/inventory"
)

// ParseGemfileLock reads Bundler's Gemfile.lock. Gems come from the specs
// of the GEM (rubygems.org and other gem servers) and GIT sections; PATH
// gems are the project's own code and skipped. A gem not listed under
// DEPENDENCIES is marked indirect. A platform suffix
// ("nokogiri (1.16.7-x86_64-linux)") becomes the package's Arch. The lock
// file does not record Gemfile groups, so no gem is marked Dev.
func ParseGemfileLock(b []byte) ([]inventory.Package, error) {
	var (
		pkgs    []inventory.Package
		section string
		inSpecs bool
		direct  = map[string]bool{}
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxLineLen)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if indent == 0 {
			if !isSectionName(line) {
				return nil, fmt.Errorf("%w: Gemfile.lock: line %d: expected a section name, got %q", ErrMalformed, n, truncate(line))
			}
			section, inSpecs = line, false
			continue
		}
		if section == "" {
			return nil, fmt.Errorf("%w: Gemfile.lock: line %d: indented line before any section", ErrMalformed, n)
		}
		switch section {
		case "GEM", "GIT", "PATH":
			switch {
			case indent == 2:
				inSpecs = trimmed == "specs:"
			case indent == 4 && inSpecs:
				if section == "PATH" {
					continue
				}
				name, version, platform, err := specLine(trimmed)
				if err != nil {
					return nil, fmt.Errorf("%w: Gemfile.lock: line %d: %v", ErrMalformed, n, err)
				}
				if len(pkgs) >= maxPackages {
					return nil, fmt.Errorf("%w: Gemfile.lock: more than %d gems", ErrMalformed, maxPackages)
				}
				pkgs = append(pkgs, newPackage(name, version, platform))
			}
		case "DEPENDENCIES":
			if indent == 2 {
				name, _, _ := strings.Cut(trimmed, " ")
				direct[strings.TrimSuffix(name, "!")] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: Gemfile.lock: %v", ErrMalformed, err)
	}
	for i := range pkgs {
		pkgs[i].Indirect = !direct[pkgs[i].Name]
	}
	return sortPackages(pkgs), nil
}

// isSectionName accepts Bundler's section headers: upper-case words
// ("GEM", "PLUGIN SOURCE", "BUNDLED WITH", "RUBY VERSION", "CHECKSUMS").
func isSectionName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || c == ' ' || c == '_') {
			return false
		}
	}
	return s != ""
}

// specLine parses "name (version[-platform])".
func specLine(s string) (name, version, platform string, err error) {
	name, rest, ok := strings.Cut(s, " (")
	if !ok || !strings.HasSuffix(rest, ")") {
		return "", "", "", fmt.Errorf("expected \"name (version)\", got %q", truncate(s))
	}
	version, platform, _ = strings.Cut(strings.TrimSuffix(rest, ")"), "-")
	switch {
	case !validName(name):
		return "", "", "", fmt.Errorf("invalid gem name %q", truncate(name))
	case !validVersion(version):
		return "", "", "", fmt.Errorf("%s: invalid version %q", name, truncate(version))
	case !validPlatform(platform):
		return "", "", "", fmt.Errorf("%s: invalid platform %q", name, truncate(platform))
	}
	return name, version, platform, nil
}
