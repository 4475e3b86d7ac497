package layers

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dustin/go-humanize"
)

// WriteJSON writes the analysis as indented JSON (docs/layers.md).
func WriteJSON(w io.Writer, a *Analysis) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return fmt.Errorf("layers json: %w", err)
	}
	return nil
}

// WriteTable writes the per-layer summary and the biggest wasted paths.
func WriteTable(w io.Writer, a *Analysis, top int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Image: %s\n", a.Image)
	fmt.Fprintf(&b, "Efficiency: %s   Wasted: %s   User wasted: %s   Size: %s (user layers %s)\n\n",
		Percent(a.Efficiency), Bytes(a.WastedBytes), userWastedText(a), Bytes(a.SizeBytes), Bytes(a.UserSizeBytes))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tSIZE\tBLOB\tADDED\tMODIFIED\tREMOVED\tDIFF ID\tCREATED BY")
	for _, l := range a.Layers {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Index, Bytes(l.Size), Bytes(l.BlobSize),
			countText(l.Added), countText(l.Modified), countText(l.Removed), shortDigest(l.DiffID), oneLine(l.CreatedBy, 60))
	}
	tw.Flush()
	if len(a.Wasted) > 0 {
		fmt.Fprintf(&b, "\nPaths in more than one layer (%d; biggest first):\n", len(a.Wasted))
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "COUNT\tTOTAL SPACE\tPATH")
		for i, x := range a.Wasted {
			if top > 0 && i >= top {
				fmt.Fprintf(tw, "…\t\t%d more\n", len(a.Wasted)-top)
				break
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\n", x.Count, Bytes(x.Bytes), x.Path)
		}
		tw.Flush()
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func userWastedText(a *Analysis) string {
	if a.UserWastedPercent == nil {
		return "∞"
	}
	return Percent(*a.UserWastedPercent)
}

func countText(c Counts) string {
	if c.Files == 0 {
		return "-"
	}
	return strconv.Itoa(c.Files) + " (" + Bytes(c.Bytes) + ")"
}

// Percent writes a fraction as a percentage with two decimals.
func Percent(f float64) string { return strconv.FormatFloat(f*100, 'f', 2, 64) + " %" }

// Bytes writes a byte count in SI units as dive does ("1.2 MB").
func Bytes(n int64) string {
	if n < 0 {
		return "-" + humanize.Bytes(uint64(-n))
	}
	return humanize.Bytes(uint64(n))
}

func shortDigest(d string) string {
	if _, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return hex[:12]
	}
	return d
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.TrimPrefix(s, "/bin/sh -c ")
	s = strings.TrimPrefix(s, "#(nop) ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}
