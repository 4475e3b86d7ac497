package npm

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/inventory"
)

// packageJSON holds the fields of package.json drydock reads.
type packageJSON struct {
	Name     json.RawMessage `json:"name"`
	Version  json.RawMessage `json:"version"`
	License  json.RawMessage `json:"license"`
	Licenses json.RawMessage `json:"licenses"`
}

// ParsePackageJSON reads the package.json of an installed package. It
// returns nil (and no error) when the file has no name or no version:
// npm accepts that for packages that are never published. Syntax errors
// and a name or version that is not a string are errors.
func ParsePackageJSON(b []byte) (*inventory.Package, error) {
	var pj packageJSON
	if err := json.Unmarshal(trimBOM(b), &pj); err != nil {
		return nil, jsonError("package.json", err)
	}
	name, err := stringField("name", pj.Name)
	if err != nil {
		return nil, err
	}
	version, err := stringField("version", pj.Version)
	if err != nil {
		return nil, err
	}
	name, version = strings.TrimSpace(name), strings.TrimSpace(version)
	if name == "" || version == "" {
		return nil, nil
	}
	if !validName(name) {
		return nil, fmt.Errorf("%w: package.json: invalid name %q", ErrMalformed, truncate(name))
	}
	if !validName(version) {
		return nil, fmt.Errorf("%w: package.json: %s: invalid version %q", ErrMalformed, name, truncate(version))
	}
	p := newPackage(name, version, false)
	p.Licenses = licenses(pj.License, pj.Licenses)
	return &p, nil
}

// stringField decodes an optional string field; null and absence are "".
func stringField(field string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: package.json: %q is not a string", ErrMalformed, field)
	}
	return s, nil
}

// jsonError turns an encoding/json error into one naming the file kind
// and the offset.
func jsonError(kind string, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: %s: invalid JSON at offset %d: %v", ErrMalformed, kind, se.Offset, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%w: %s: field %q: JSON %s where %s was expected", ErrMalformed, kind, te.Field, te.Value, te.Type)
	}
	return fmt.Errorf("%w: %s: %v", ErrMalformed, kind, err)
}

// licenses reads the "license" field (an SPDX expression, or the legacy
// {"type": …} object) and the legacy "licenses" array.
func licenses(license, legacy json.RawMessage) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && len(s) <= 512 && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, raw := range []json.RawMessage{license, legacy} {
		if len(raw) == 0 {
			continue
		}
		switch raw[0] {
		case '"', '{':
			add(licenseValue(raw))
		case '[':
			var items []json.RawMessage
			if json.Unmarshal(raw, &items) == nil {
				for _, it := range items {
					add(licenseValue(it))
				}
			}
		}
	}
	return out
}

// licenseValue reads "MIT" or {"type": "MIT", "url": …}.
func licenseValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Type json.RawMessage `json:"type"`
		Name json.RawMessage `json:"name"`
	}
	if json.Unmarshal(raw, &o) != nil {
		return ""
	}
	for _, f := range []json.RawMessage{o.Type, o.Name} {
		if json.Unmarshal(f, &s) == nil && s != "" {
			return s
		}
	}
	return ""
}
