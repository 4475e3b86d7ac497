package report

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON writes the drydock JSON report (schema drydock.report/v1,
// docs/json-report.md): indented, fields in a fixed order, packages and
// findings sorted, so the same image and database give the same bytes.
func WriteJSON(w io.Writer, r *Report, _ Options) error {
	c := sortedReport(r)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	return nil
}
