package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/drydockscan/drydock/internal/finding"
)

// defaultWidth is the table width when Options.Width is not set.
const defaultWidth = 120

// ANSI SGR sequences of the table.
const (
	sgrReset    = "\x1b[0m"
	sgrBold     = "\x1b[1m"
	sgrDim      = "\x1b[2m"
	sgrRed      = "\x1b[31m"
	sgrBoldRed  = "\x1b[1;31m"
	sgrYellow   = "\x1b[33m"
	sgrBlue     = "\x1b[34m"
	sgrGreen    = "\x1b[32m"
	sgrBoldMag  = "\x1b[1;35m"
	columnGap   = "  "
	minTitleCol = 16
)

// WriteTable writes the human-readable report. With findings (a database
// was used): a summary with counts per severity and the gate's verdict,
// then one table per target (OS packages, then each lock file or binary)
// with package, installed version, vulnerability, severity and its source,
// fix status and title, wrapped to Options.Width. Without a database: the
// package list. Options.Color adds ANSI colour. Text from the image or the
// database is stripped of control characters, so a hostile package name
// cannot drive the terminal.
func WriteTable(w io.Writer, r *Report, o Options) error {
	bw := bufio.NewWriter(w)
	switch {
	case withFindings(r):
		writeFindingTables(bw, r, o)
	case len(r.Packages) == 0 && otherKinds(r):
		writeHeading(bw, r)
		fmt.Fprintln(bw)
	default:
		writePackageTable(bw, r)
	}
	writeKindTables(bw, r, o)
	if g := r.Gate; g != nil && !withFindings(r) {
		p := painter(o.Color)
		verdict := p.paint(sgrGreen, "PASSED")
		if g.Failed {
			verdict = p.paint(sgrBoldRed, "FAILED")
		}
		fmt.Fprintf(bw, "\nGate: fail on %s or above: %s (%d failing)\n", termSafe(string(g.FailOn)), verdict, g.Failing)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("table report: %w", err)
	}
	return nil
}

func writeHeading(w io.Writer, r *Report) {
	fmt.Fprintf(w, "%s", termSafe(r.Target.Ref))
	if r.OS != nil {
		fmt.Fprintf(w, " (%s)", termSafe(osString(r)))
	}
}

func writePackageTable(w io.Writer, r *Report) {
	writeHeading(w, r)
	fmt.Fprintf(w, "\n%d packages\n\n", len(r.Packages))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tNAME\tVERSION\tLAYER\tPATH")
	for _, p := range r.Packages {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", termSafe(p.Type), termSafe(p.Name), termSafe(p.Version), p.LayerIndex, termSafe(p.Path))
	}
	_ = tw.Flush() // the bufio.Writer underneath reports write errors
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

// painter applies colour when enabled.
type painter bool

func (p painter) paint(sgr, s string) string {
	if !p || s == "" || sgr == "" {
		return s
	}
	return sgr + s + sgrReset
}

func severitySGR(s finding.Severity) string {
	switch s {
	case finding.Critical:
		return sgrBoldRed
	case finding.High:
		return sgrRed
	case finding.Medium:
		return sgrYellow
	case finding.Low:
		return sgrBlue
	}
	return sgrDim
}

func writeFindingTables(w io.Writer, r *Report, o Options) {
	p := painter(o.Color)
	width := o.Width
	if width <= 0 {
		width = defaultWidth
	}
	fs := sortedFindings(r)
	line := func(sgr, text string) {
		for _, l := range wrapText(termSafe(text), width) {
			fmt.Fprintln(w, p.paint(sgr, l))
		}
	}
	head := r.Target.Ref
	if r.OS != nil {
		head += " (" + osString(r) + ")"
	}
	line("", head)
	c := countSeverities(fs)
	line("", fmt.Sprintf("%d packages, %d findings (%d suppressed)", len(r.Packages), len(fs), c.Suppressed))
	if d := r.Database; d != nil {
		txt := fmt.Sprintf("Database: schema %d", d.SchemaVersion)
		if d.Updated != "" {
			txt += ", updated " + d.Updated
		}
		line("", txt+" ("+hoursOld(d.AgeHours)+" old)")
		if len(d.Unchecked) > 0 {
			var parts []string
			for _, u := range d.Unchecked {
				parts = append(parts, fmt.Sprintf("%s (%d packages)", u.Ecosystem, u.Packages))
			}
			line(sgrBold, "Not checked, no vulnerability data: "+strings.Join(parts, ", "))
		}
	}
	if s := r.Scan; s != nil {
		line("", fmt.Sprintf("Scan: started %s, took %s", s.Started, time.Duration(s.DurationMS)*time.Millisecond))
	}

	fmt.Fprintln(w)
	line("", fmt.Sprintf("Total: %d vulnerabilities, %d suppressed", c.Total, c.Suppressed))
	var tokens []string
	var sgrs []string
	for _, s := range finding.All() {
		tokens = append(tokens, fmt.Sprintf("%s: %d", s, c.By[s]))
		sgr := ""
		if c.By[s] > 0 {
			sgr = severitySGR(s)
		}
		sgrs = append(sgrs, sgr)
	}
	writeTokens(w, tokens, sgrs, width, p)
	if g := r.Gate; g != nil {
		verdict := p.paint(sgrGreen, "PASSED")
		if g.Failed {
			verdict = p.paint(sgrBoldRed, "FAILED")
		}
		fmt.Fprintf(w, "Gate: fail on %s or above: %s (%d failing)\n", termSafe(string(g.FailOn)), verdict, g.Failing)
	}
	if len(fs) == 0 {
		fmt.Fprintln(w, "\nNo vulnerabilities found.")
		return
	}

	for _, g := range groupByTarget(fs) {
		kind := g.Findings[0].Package.Type
		if g.Name == "os-packages" && r.OS != nil {
			kind = osString(r)
		}
		n, sup := len(g.Findings), countSeverities(g.Findings).Suppressed
		noun := "findings"
		if n == 1 {
			noun = "finding"
		}
		head := fmt.Sprintf("%s (%s): %d %s", g.Name, kind, n, noun)
		if sup > 0 {
			head += fmt.Sprintf(" (%d suppressed)", sup)
		}
		fmt.Fprintln(w)
		line(sgrBold, head)
		writeFindingRows(w, g.Findings, width, p)
	}

	var suppressed []finding.Finding
	for _, f := range fs {
		if f.Suppression != nil {
			suppressed = append(suppressed, f)
		}
	}
	if len(suppressed) > 0 {
		fmt.Fprintln(w)
		line(sgrBold, "Suppressed:")
		for _, f := range suppressed {
			text := fmt.Sprintf("%s %s %s: %s", f.ID, f.Package.Name, f.Package.Version, suppressionText(f.Suppression))
			for _, l := range wrapText(termSafe(text), width-2) {
				fmt.Fprintf(w, "  %s\n", p.paint(sgrDim, l))
			}
		}
	}
}

// writeTokens writes tokens separated by two spaces, starting a new line
// before a token that would pass width.
func writeTokens(w io.Writer, tokens, sgrs []string, width int, p painter) {
	n := 0
	for i, t := range tokens {
		tw := utf8.RuneCountInString(t)
		if n > 0 && n+len(columnGap)+tw > width {
			fmt.Fprintln(w)
			n = 0
		}
		if n > 0 {
			fmt.Fprint(w, columnGap)
			n += len(columnGap)
		}
		fmt.Fprint(w, p.paint(sgrs[i], t))
		n += tw
	}
	fmt.Fprintln(w)
}

func hoursOld(h int) string {
	switch {
	case h == 1:
		return "1 hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	default:
		return fmt.Sprintf("%d days", h/24)
	}
}

// tableColumn is one column: its heading, the widths it may take and
// where its text may wrap besides spaces.
type tableColumn struct {
	title    string
	min, max int
	breaks   string
}

var findingColumns = []tableColumn{
	{"PACKAGE", 8, 30, "/-"},
	{"INSTALLED", 7, 22, ""},
	{"VULNERABILITY", 10, 19, ""},
	{"SEVERITY", 8, 16, ""},
	{"FIXED IN", 8, 22, ","},
	{"TITLE", minTitleCol, 0, "/-,"},
}

func findingCells(f *finding.Finding) []string {
	sev := string(normSev(f.Severity))
	if f.SeveritySource != "" {
		sev += " (" + f.SeveritySource + ")"
	}
	if f.KEV != nil {
		sev += " KEV"
	}
	var fixed string
	switch {
	case f.Suppression != nil && f.Suppression.Kind == finding.SuppressedByVEX:
		fixed = "(VEX " + f.Suppression.Status + ")"
	case f.Suppression != nil && f.Suppression.Kind == finding.SuppressedByIgnore:
		fixed = "(ignored)"
		if f.Suppression.Expires != "" {
			fixed = "(ignored until " + f.Suppression.Expires + ")"
		}
	case f.Suppression != nil:
		fixed = "(suppressed)"
	case len(f.FixedVersions) > 0:
		fixed = strings.Join(f.FixedVersions, ", ")
	case f.Status == finding.StatusWillNotFix:
		fixed = "(will not fix)"
	default:
		fixed = "(no fix yet)"
	}
	cells := []string{f.Package.Name, f.Package.Version, f.ID, sev, fixed, f.Title}
	for i := range cells {
		cells[i] = termSafe(cells[i])
	}
	return cells
}

// columnWidths fits the columns into width: every column but the title
// takes its natural width up to its maximum; the title takes the rest, at
// least a sixth of the width. When it would get less, the widest other
// columns give way, down to their minimums.
func columnWidths(rows [][]string, width int) []int {
	n := len(findingColumns)
	ws := make([]int, n)
	for i, c := range findingColumns {
		ws[i] = utf8.RuneCountInString(c.title)
	}
	for _, row := range rows {
		for i, cell := range row {
			ws[i] = max(ws[i], utf8.RuneCountInString(cell))
		}
	}
	natTitle := ws[n-1]
	for i, c := range findingColumns[:n-1] {
		ws[i] = min(ws[i], c.max)
	}
	rest := func() int {
		s := width - len(columnGap)*(n-1)
		for _, w := range ws[:n-1] {
			s -= w
		}
		return s
	}
	minTitle := max(minTitleCol, width/6)
	for rest() < min(minTitle, natTitle) {
		widest := -1
		for i, c := range findingColumns[:n-1] {
			if ws[i] > c.min && (widest < 0 || ws[i] > ws[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		ws[widest]--
	}
	ws[n-1] = max(min(natTitle, rest()), minTitleCol)
	return ws
}

func writeFindingRows(w io.Writer, fs []finding.Finding, width int, p painter) {
	rows := make([][]string, len(fs))
	for i := range fs {
		rows[i] = findingCells(&fs[i])
	}
	ws := columnWidths(rows, width)
	heads := make([]string, len(findingColumns))
	for i, c := range findingColumns {
		heads[i] = c.title
	}
	writeRow(w, heads, ws, func(int) string { return sgrBold }, p)
	for i, row := range rows {
		f := &fs[i]
		style := func(col int) string {
			if f.Suppression != nil {
				return sgrDim
			}
			if col == 3 {
				return severitySGR(normSev(f.Severity))
			}
			return ""
		}
		writeRow(w, row, ws, style, p)
	}
}

// writeRow writes one table row, wrapping each cell to its column; the
// row is as many lines high as its tallest cell.
func writeRow(w io.Writer, cells []string, ws []int, style func(col int) string, p painter) {
	lines := make([][]string, len(cells))
	height := 1
	for i, c := range cells {
		lines[i] = wrapAt(c, ws[i], findingColumns[i].breaks)
		height = max(height, len(lines[i]))
	}
	for l := range height {
		var b strings.Builder
		// Trailing empty cells are not padded, so lines carry no trailing
		// blanks.
		last := len(cells) - 1
		for last > 0 && l >= len(lines[last]) {
			last--
		}
		for i := 0; i <= last; i++ {
			text := ""
			if l < len(lines[i]) {
				text = lines[i][l]
			}
			if i > 0 {
				b.WriteString(columnGap)
			}
			b.WriteString(p.paint(style(i), text))
			if i < last {
				b.WriteString(strings.Repeat(" ", ws[i]-utf8.RuneCountInString(text)))
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// wrapText breaks s into lines of at most width runes at spaces, and
// after '/', '-' and ','.
func wrapText(s string, width int) []string { return wrapAt(s, width, "/-,") }

// wrapAt breaks s into lines of at most width runes: at spaces, after any
// rune of breaks, and inside a word only when the word alone is longer
// than a line.
func wrapAt(s string, width int, breaks string) []string {
	if width <= 0 {
		width = 1
	}
	if utf8.RuneCountInString(s) <= width {
		return []string{s}
	}
	var lines []string
	var line []rune
	flush := func() {
		lines = append(lines, strings.TrimRight(string(line), " "))
		line = line[:0]
	}
	for _, seg := range segments(s, breaks) {
		rs := []rune(seg)
		visible := utf8.RuneCountInString(strings.TrimRight(seg, " "))
		if len(line)+visible <= width {
			line = append(line, rs...)
			continue
		}
		if len(line) > 0 {
			flush()
		}
		rs = []rune(strings.TrimLeft(seg, " "))
		for utf8.RuneCountInString(strings.TrimRight(string(rs), " ")) > width {
			lines = append(lines, string(rs[:width]))
			rs = rs[width:]
		}
		line = append(line, rs...)
	}
	if strings.TrimSpace(string(line)) != "" || len(lines) == 0 {
		flush()
	}
	return lines
}

// segments splits s after every space and after every rune of breaks.
func segments(s, breaks string) []string {
	var out []string
	start := 0
	for i, r := range s {
		if r == ' ' || strings.ContainsRune(breaks, r) {
			out = append(out, s[start:i+utf8.RuneLen(r)])
			start = i + utf8.RuneLen(r)
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// termSafe makes text from an image or a database safe to print on a
// terminal: control characters (escape sequences, carriage returns),
// bidirectional overrides and other format characters become U+FFFD, and
// runs of white space one space.
func termSafe(s string) string {
	if !strings.ContainsFunc(s, unsafeRune) && !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t' || r == ' ':
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		case unsafeRune(r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
		space = false
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}
