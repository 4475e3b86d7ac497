package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// OpenVEX 0.2.0 (https://github.com/openvex/spec), decoded by hand: the
// reference library (github.com/openvex/go-vex) pulls in in-toto and
// protobuf for what is a handful of fields here. Decoding is tolerant of
// fields it does not know and of the 0.0.1 shape (vulnerability and
// products as plain strings, subcomponents on the statement).

type ovDoc struct {
	Timestamp   string        `json:"timestamp"`
	LastUpdated string        `json:"last_updated"`
	Statements  []ovStatement `json:"statements"`
}

type ovStatement struct {
	Vulnerability   json.RawMessage   `json:"vulnerability"`
	Timestamp       string            `json:"timestamp"`
	LastUpdated     string            `json:"last_updated"`
	Products        []json.RawMessage `json:"products"`
	Subcomponents   []json.RawMessage `json:"subcomponents"`
	Status          string            `json:"status"`
	Justification   string            `json:"justification"`
	ImpactStatement string            `json:"impact_statement"`
	StatusNotes     string            `json:"status_notes"`
}

type ovVulnerability struct {
	ID      string   `json:"@id"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases"`
}

type ovComponent struct {
	ID            string            `json:"@id"`
	Identifiers   map[string]string `json:"identifiers"`
	Subcomponents []json.RawMessage `json:"subcomponents"`
}

var openVEXJustifications = []string{
	"component_not_present",
	"vulnerable_code_not_present",
	"vulnerable_code_not_in_execute_path",
	"vulnerable_code_cannot_be_controlled_by_adversary",
	"inline_mitigations_already_exist",
}

var openVEXStatuses = []string{StatusNotAffected, StatusAffected, StatusFixed, StatusUnderInvestigation}

// parseInToto reads an in-toto statement whose predicate is an OpenVEX
// document; its subjects are the products of statements that name none.
func (v *VEX) parseInToto(data []byte) error {
	var att struct {
		Subject []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(data, &att); err != nil {
		return err
	}
	if len(att.Predicate) == 0 {
		return errors.New("in-toto statement without predicate")
	}
	var subjects []Product
	for _, s := range att.Subject {
		p := Product{ID: s.Name, Image: true}
		if d := s.Digest["sha256"]; d != "" {
			p.Digest = "sha256:" + d
		}
		subjects = append(subjects, p)
	}
	if len(subjects) == 0 {
		return errors.New("in-toto statement without subject")
	}
	return v.parseOpenVEX(att.Predicate, subjects)
}

// parseOpenVEX reads an OpenVEX document; defaultProducts apply to
// statements without products (nil outside attestations).
func (v *VEX) parseOpenVEX(data []byte, defaultProducts []Product) error {
	var doc ovDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	docTime, err := parseTime("document timestamp", doc.Timestamp)
	if err != nil {
		return err
	}
	docUpdated, err := parseTime("document last_updated", doc.LastUpdated)
	if err != nil {
		return err
	}
	for i, st := range doc.Statements {
		s, err := v.openVEXStatement(i, &st, defaultProducts)
		if err != nil {
			return fmt.Errorf("statement %d: %w", i+1, err)
		}
		s.Time = firstTime(s.Time, docUpdated, docTime)
		v.Statements = append(v.Statements, s)
	}
	return nil
}

func (v *VEX) openVEXStatement(i int, st *ovStatement, defaultProducts []Product) (Statement, error) {
	var s Statement
	vuln, err := decodeOpenVEXVulnerability(st.Vulnerability)
	if err != nil {
		return s, err
	}
	s.Vulnerability, s.Aliases = vuln.Name, vuln.Aliases
	if !slices.Contains(openVEXStatuses, st.Status) {
		return s, fmt.Errorf("%s: unknown status %q (want one of %s)", s.Vulnerability, st.Status, strings.Join(openVEXStatuses, ", "))
	}
	s.Status = st.Status
	if st.Justification != "" && !slices.Contains(openVEXJustifications, st.Justification) {
		return s, fmt.Errorf("%s: unknown justification %q", s.Vulnerability, st.Justification)
	}
	if s.Status == StatusNotAffected && st.Justification == "" && st.ImpactStatement == "" {
		return s, fmt.Errorf("%s: status not_affected needs a justification or an impact_statement", s.Vulnerability)
	}
	s.Justification = st.Justification
	s.Impact = st.ImpactStatement
	if s.Impact == "" {
		s.Impact = st.StatusNotes
	}
	ts, err := parseTime("timestamp", st.Timestamp)
	if err != nil {
		return s, err
	}
	updated, err := parseTime("last_updated", st.LastUpdated)
	if err != nil {
		return s, err
	}
	s.Time = firstTime(updated, ts)

	// Statement-level subcomponents are the 0.0.1 shape.
	legacySubs, err := v.openVEXSubcomponents(i, s.Vulnerability, st.Subcomponents)
	if err != nil {
		return s, err
	}
	for _, raw := range st.Products {
		p, ok, err := v.openVEXProduct(i, s.Vulnerability, raw)
		if err != nil {
			return s, err
		}
		if !ok {
			continue
		}
		p.Subcomponents = append(p.Subcomponents, legacySubs...)
		s.Products = append(s.Products, p)
	}
	if len(st.Products) == 0 {
		for _, p := range defaultProducts {
			p.Subcomponents = legacySubs
			s.Products = append(s.Products, p)
		}
	}
	if len(st.Products) == 0 && len(defaultProducts) == 0 {
		v.note("statement %d (%s) names no product; not applied", i+1, s.Vulnerability)
	}
	return s, nil
}

func decodeOpenVEXVulnerability(raw json.RawMessage) (ovVulnerability, error) {
	var vuln ovVulnerability
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return vuln, errors.New("vulnerability missing")
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &vuln.Name); err != nil {
			return vuln, fmt.Errorf("vulnerability: %w", err)
		}
	default:
		if err := json.Unmarshal(raw, &vuln); err != nil {
			return vuln, fmt.Errorf("vulnerability: %w", err)
		}
	}
	vuln.Name = strings.TrimSpace(vuln.Name)
	if vuln.Name == "" {
		return vuln, errors.New("vulnerability name missing")
	}
	return vuln, nil
}

// decodeOpenVEXComponent reads a product or subcomponent: an object, or
// a plain identifier string (0.0.1).
func decodeOpenVEXComponent(raw json.RawMessage) (ovComponent, error) {
	var c ovComponent
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		err := json.Unmarshal(raw, &c.ID)
		return c, err
	}
	err := json.Unmarshal(raw, &c)
	return c, err
}

// openVEXProduct reads one product; ok is false (with a note) when it
// cannot be matched against packages.
func (v *VEX) openVEXProduct(i int, vuln string, raw json.RawMessage) (Product, bool, error) {
	c, err := decodeOpenVEXComponent(raw)
	if err != nil {
		return Product{}, false, fmt.Errorf("%s: product: %w", vuln, err)
	}
	p, ok := v.openVEXComponent(i, vuln, "product", &c)
	if !ok {
		return p, false, nil
	}
	subs, err := v.openVEXSubcomponents(i, vuln, c.Subcomponents)
	if err != nil {
		return p, false, err
	}
	if len(c.Subcomponents) > 0 && len(subs) == 0 {
		// Every subcomponent was unusable: the statement must not widen
		// to the whole product.
		return p, false, nil
	}
	p.Subcomponents = subs
	return p, true, nil
}

func (v *VEX) openVEXSubcomponents(i int, vuln string, raws []json.RawMessage) ([]Product, error) {
	var out []Product
	for _, raw := range raws {
		c, err := decodeOpenVEXComponent(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: subcomponent: %w", vuln, err)
		}
		if p, ok := v.openVEXComponent(i, vuln, "subcomponent", &c); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// openVEXComponent identifies a component by its purl identifier, else by
// an @id that is a purl or an image reference with a digest.
func (v *VEX) openVEXComponent(i int, vuln, what string, c *ovComponent) (Product, bool) {
	id := c.Identifiers["purl"]
	if id == "" {
		id = c.ID
	}
	p, ok := productFromID(id)
	if !ok {
		name := id
		if name == "" {
			name = c.Identifiers["cpe23"] + c.Identifiers["cpe22"]
		}
		v.note("statement %d (%s): %s %q has no usable package URL; not applied to it", i+1, vuln, what, name)
	}
	return p, ok
}
