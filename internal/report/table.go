package report

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable writes a plain table of the packages.
func WriteTable(w io.Writer, r *Report, _ Options) error {
	fmt.Fprintf(w, "%s", r.Target.Ref)
	if r.OS != nil {
		fmt.Fprintf(w, " (%s)", osString(r))
	}
	fmt.Fprintf(w, "\n%d packages\n\n", len(r.Packages))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tNAME\tVERSION\tLAYER\tPATH")
	for _, p := range r.Packages {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", p.Type, p.Name, p.Version, p.LayerIndex, p.Path)
	}
	return tw.Flush()
}

func osString(r *Report) string {
	if r.OS.PrettyName != "" {
		return r.OS.PrettyName
	}
	s := r.OS.ID
	if r.OS.VersionID != "" {
		s += " " + r.OS.VersionID
	}
	return s
}
