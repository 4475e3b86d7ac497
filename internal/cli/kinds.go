package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/pflag"

	"github.com/drydockscan/drydock/internal/compliance"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/license"
	"github.com/drydockscan/drydock/internal/policy"
	"github.com/drydockscan/drydock/internal/secret"
)

// kindFlags configure the kinds of findings beyond vulnerabilities.
type kindFlags struct {
	secretAllowPaths   []string
	secretAllowRegexes []string
	secretMaxSize      int64
	licenseDeny        []string
	licenseAllow       []string
	licenseSeverity    []string
	licenseCategory    []string
	compliance         string
	policyFile         string
}

func (k *kindFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&k.secretAllowPaths, "secret-allow-path", nil, "regular expression of file paths (relative to the image root) not scanned for secrets; repeatable")
	fs.StringArrayVar(&k.secretAllowRegexes, "secret-allow-regex", nil, "regular expression of secret values not reported; repeatable")
	fs.Int64Var(&k.secretMaxSize, "secret-max-size", secret.DefaultMaxSize, "largest file scanned for secrets, in bytes")
	fs.StringSliceVar(&k.licenseDeny, "license-deny", nil, "SPDX licence ids never acceptable (finding license-denied, CRITICAL)")
	fs.StringSliceVar(&k.licenseAllow, "license-allow", nil, "SPDX licence ids that are the only acceptable ones (others: license-not-allowed, HIGH)")
	fs.StringSliceVar(&k.licenseSeverity, "license-severity", nil, "CATEGORY=SEVERITY for licence categories (forbidden, restricted, reciprocal, notice, permissive, unencumbered, unknown)")
	fs.StringSliceVar(&k.licenseCategory, "license-category", nil, "SPDX-ID=CATEGORY to override a licence's category")
	fs.StringVar(&k.compliance, "compliance", "", "compliance report to add: "+strings.Join(compliance.Specs(), ", "))
	fs.StringVar(&k.policyFile, "policy", policy.DefaultRulesFile, "policy file (YAML rules with CEL conditions, each warn or fail); a missing default file is fine")
}

// kindOptions are the parsed kind flags.
type kindOptions struct {
	secret     secret.Options
	license    license.Options
	compliance string
	rules      *policy.Rules
}

func (k *kindFlags) options() (kindOptions, error) {
	o := kindOptions{
		secret:     secret.Options{Allow: secret.Allow{Paths: k.secretAllowPaths, Regexes: k.secretAllowRegexes}, MaxSize: k.secretMaxSize},
		license:    license.Options{Deny: k.licenseDeny, Allow: k.licenseAllow},
		compliance: k.compliance,
	}
	if err := o.secret.Validate(); err != nil {
		return o, err
	}
	for _, kv := range k.licenseSeverity {
		cat, sev, ok := strings.Cut(kv, "=")
		s, known := finding.ParseSeverity(sev)
		if !ok || !known {
			return o, fmt.Errorf("--license-severity %q: want CATEGORY=SEVERITY", kv)
		}
		if o.license.Severities == nil {
			o.license.Severities = map[string]finding.Severity{}
		}
		o.license.Severities[strings.ToLower(cat)] = s
	}
	for _, kv := range k.licenseCategory {
		id, cat, ok := strings.Cut(kv, "=")
		if !ok {
			return o, fmt.Errorf("--license-category %q: want SPDX-ID=CATEGORY", kv)
		}
		if o.license.Categories == nil {
			o.license.Categories = map[string]string{}
		}
		o.license.Categories[id] = strings.ToLower(cat)
	}
	if err := o.license.Validate(); err != nil {
		return o, err
	}
	if k.compliance != "" {
		found := false
		for _, s := range compliance.Specs() {
			found = found || s == k.compliance
		}
		if !found {
			return o, fmt.Errorf("--compliance: unknown specification %q (have: %s)", k.compliance, strings.Join(compliance.Specs(), ", "))
		}
	}
	if k.policyFile != "" {
		rules, err := policy.LoadRules(k.policyFile)
		switch {
		case err == nil:
			o.rules = rules
		case errors.Is(err, fs.ErrNotExist) && k.policyFile == policy.DefaultRulesFile:
		default:
			return o, err
		}
	}
	return o, nil
}
