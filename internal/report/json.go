package report

import (
	"encoding/json"
	"io"
)

// WriteJSON writes the drydock JSON report: indented, fields in a fixed
// order, packages sorted.
func WriteJSON(w io.Writer, r *Report, _ Options) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
