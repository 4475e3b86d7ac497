package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON writes the drydock JSON report (schema drydock.report/v1,
// docs/json-report.md): indented, fields in a fixed order, packages and
// findings sorted, so the same image and database give the same bytes.
func WriteJSON(w io.Writer, r *Report, _ Options) error {
	c := sortedReport(r)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	// Encode ends the document with a newline, which the indenter keeps.
	if err := writeIndented(w, buf.Bytes(), "  "); err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	return nil
}
