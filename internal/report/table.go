package report

import (
	"bufio"
	"fmt"
	"io"
	"slices"
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
	sgrReset   = "\x1b[0m"
	sgrBold    = "\x1b[1m"
	sgrDim     = "\x1b[2m"
	sgrRed     = "\x1b[31m"
	sgrBoldRed = "\x1b[1;31m"
	sgrYellow  = "\x1b[33m"
	sgrBlue    = "\x1b[34m"
	sgrGreen   = "\x1b[32m"
	sgrBoldMag = "\x1b[1;35m"
	columnGap  = "  "
	// minTitleCol is the title width the other columns make room for.
	minTitleCol = 16
)

// WriteTable writes the human-readable report. With findings (a database
// was used): a summary with counts per severity and the gate's verdict,
// then one table per target (OS packages, then each project, environment,
// binary or archive) with package, installed version, vulnerability,
// severity and its source, fix status and title, fitted to Options.Width:
// one line per finding where the columns fit, the title cut with an
// ellipsis, other cells wrapped only between words (see columnWidths).
// Without a database: the
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
	if r.Runtime != nil {
		fmt.Fprintf(w, "%s\n\n", termSafe(runtimeSummary(r)))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "TYPE\tNAME\tVERSION\tLAYER\tPATH"
	if r.Runtime != nil {
		head += "\tIN USE"
	}
	fmt.Fprintln(tw, head)
	for i := range r.Packages {
		p := &r.Packages[i]
		where := termSafe(p.Path)
		if n := len(p.Locations); n > 1 {
			// The other places (the project's lock file) are in every
			// other format; the table names how many there are.
			where += fmt.Sprintf(" (+%d more)", n-1)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s", termSafe(p.Type), termSafe(p.Name), termSafe(p.Version), p.LayerIndex, where)
		if r.Runtime != nil {
			use := "-"
			if p.InUse {
				use = "yes"
			}
			fmt.Fprintf(tw, "\t%s", use)
		}
		fmt.Fprintln(tw)
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
	if r.Runtime != nil {
		line("", runtimeSummary(r)+fmt.Sprintf("; %d of the findings shown are in them (IN-USE)", countInUse(fs)))
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

// tableColumn is one column: its heading, and where a word too long for
// it may wrap. The title column never wraps: it is cut to its width with
// an ellipsis (the full title is in the JSON and HTML reports).
type tableColumn struct {
	title  string
	breaks string
}

var findingColumns = []tableColumn{
	{"PACKAGE", "/-"},
	{"INSTALLED", "-"},
	{"VULNERABILITY", ""},
	{"SEVERITY", ""},
	{"FIXED IN", ",-"},
	{"TITLE", ""},
}

// titleCol is the index of the title column, the last one.
var titleCol = len(findingColumns) - 1

// minTitle is the narrowest title column worth showing; below it the
// table has no title column.
const minTitle = 8

func findingCells(f *finding.Finding) []string {
	sev := string(normSev(f.Severity))
	if f.SeveritySource != "" {
		sev += " (" + f.SeveritySource + ")"
	}
	if f.KEV != nil {
		sev += " KEV"
	}
	if f.InUse {
		sev += " IN-USE"
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

// columnWidths fits the columns into width, keeping as many findings as
// possible on one line. Every column but the title takes its natural
// width (its longest cell) and the title the rest, cut
// with an ellipsis. When they do not fit, the other columns give way one
// character at a time, each time the one whose narrowing adds the fewest
// lines to the table, never below their longest word (nothing is split
// inside a word) nor their heading: far enough to leave the title
// minTitleCol when that costs no more lines than leaving no title, else
// only as far as the width needs, the title getting what is left. A title
// column narrower than minTitle is left out (width 0).
func columnWidths(rows [][]string, width int) []int {
	n := len(findingColumns)
	nat := make([]int, n)
	floor := make([]int, n)
	for i, c := range findingColumns {
		nat[i] = utf8.RuneCountInString(c.title)
		floor[i] = nat[i]
	}
	for _, row := range rows {
		for i, cell := range row {
			nat[i] = max(nat[i], utf8.RuneCountInString(cell))
			if i != titleCol {
				floor[i] = max(floor[i], longestWord(cell, findingColumns[i].breaks))
			}
		}
	}
	l := &layout{rows: rows, floor: floor, memo: map[cellWidth]int{}}
	gaps := len(columnGap) * titleCol
	// Without a title, the columns give way only as far as the width
	// needs; a title column of minTitleCol is taken when it costs no line.
	bare := slices.Clone(nat)
	l.shrink(bare, width-gaps+len(columnGap))
	titled := slices.Clone(nat)
	l.shrink(titled, width-gaps-min(minTitleCol, nat[titleCol]))
	ws := bare
	if width-gaps-sum(titled[:titleCol]) >= min(minTitleCol, nat[titleCol]) && l.height(titled) <= l.height(bare) {
		ws = titled
	}
	ws[titleCol] = min(nat[titleCol], width-gaps-sum(ws[:titleCol]))
	if ws[titleCol] < minTitle {
		ws[titleCol] = 0
	}
	return ws
}

// layout narrows a table's columns.
type layout struct {
	rows  [][]string
	floor []int
	memo  map[cellWidth]int // lines a cell takes at a width
}

type cellWidth struct {
	col   int
	cell  string
	width int
}

// lines is how many lines a cell of column col takes at width.
func (l *layout) lines(col int, cell string, width int) int {
	k := cellWidth{col, cell, width}
	n, ok := l.memo[k]
	if !ok {
		n = len(wrapAt(cell, width, findingColumns[col].breaks))
		l.memo[k] = n
	}
	return n
}

// height is the table's height in lines at the widths ws, title aside
// (it is one line).
func (l *layout) height(ws []int) int {
	total := 0
	for _, row := range l.rows {
		h := 1
		for i := range ws[:titleCol] {
			h = max(h, l.lines(i, row[i], ws[i]))
		}
		total += h
	}
	return total
}

// shrink narrows the columns but the title until they fit in limit, each
// step the column whose narrowing adds the fewest lines (the widest on a
// tie), none below its floor.
func (l *layout) shrink(ws []int, limit int) {
	for sum(ws[:titleCol]) > limit {
		best, bestHeight := -1, 0
		for i := range ws[:titleCol] {
			if ws[i] <= l.floor[i] {
				continue
			}
			ws[i]--
			h := l.height(ws)
			ws[i]++
			if best < 0 || h < bestHeight || (h == bestHeight && ws[i] > ws[best]) {
				best, bestHeight = i, h
			}
		}
		if best < 0 {
			return
		}
		ws[best]--
	}
}

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

// longestWord is the length of s's longest part that wrapAt cannot break.
func longestWord(s, breaks string) int {
	longest := 0
	for _, seg := range segments(s, breaks) {
		longest = max(longest, utf8.RuneCountInString(strings.TrimRight(seg, " ")))
	}
	return longest
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

// writeRow writes one table row, wrapping each cell but the title to its
// column (the title is cut to one line); the row is as many lines high as
// its tallest cell. A column of width 0 is left out.
func writeRow(w io.Writer, cells []string, ws []int, style func(col int) string, p painter) {
	lines := make([][]string, len(cells))
	height := 1
	var cols []int
	for i, c := range cells {
		if ws[i] == 0 {
			continue
		}
		cols = append(cols, i)
		if i == titleCol {
			lines[i] = []string{ellipsize(c, ws[i])}
		} else {
			lines[i] = wrapAt(c, ws[i], findingColumns[i].breaks)
		}
		height = max(height, len(lines[i]))
	}
	for l := range height {
		var b strings.Builder
		// Trailing empty cells are not padded, so lines carry no trailing
		// blanks.
		last := len(cols) - 1
		for last > 0 && (l >= len(lines[cols[last]]) || lines[cols[last]][l] == "") {
			last--
		}
		for k, i := range cols[:last+1] {
			text := ""
			if l < len(lines[i]) {
				text = lines[i][l]
			}
			if k > 0 {
				b.WriteString(columnGap)
			}
			b.WriteString(p.paint(style(i), text))
			if k < last {
				b.WriteString(strings.Repeat(" ", ws[i]-utf8.RuneCountInString(text)))
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// ellipsize cuts s to at most width runes, ending in "…" when it was cut:
// after the last word that fits when that keeps most of the line, else in
// the middle of a word.
func ellipsize(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	if width <= 1 {
		return "…"
	}
	cut := width - 1
	if sp := strings.LastIndexByte(string(r[:cut+1]), ' '); sp >= 0 {
		if words := utf8.RuneCountInString(string(r[:cut+1])[:sp]); words >= cut*2/3 {
			cut = words
		}
	}
	return strings.TrimRight(string(r[:cut]), " ") + "…"
}

// wrapText breaks s into lines of at most width runes at spaces, and
// words longer than a line after '/', '-' and ','.
func wrapText(s string, width int) []string { return wrapAt(s, width, "/-,") }

// wrapAt breaks s into lines of at most width runes at spaces. A word
// longer than a line is broken after runes of breaks ('/', '-', …), and
// inside a part only when that part alone is longer than a line.
func wrapAt(s string, width int, breaks string) []string {
	if width <= 0 {
		width = 1
	}
	if utf8.RuneCountInString(s) <= width {
		return []string{s}
	}
	var lines []string
	var line strings.Builder
	n := 0 // runes in line
	flush := func() {
		lines = append(lines, line.String())
		line.Reset()
		n = 0
	}
	for _, word := range strings.Fields(s) {
		wl := utf8.RuneCountInString(word)
		switch {
		case n > 0 && n+1+wl <= width:
			line.WriteByte(' ')
			line.WriteString(word)
			n += 1 + wl
			continue
		case n > 0:
			flush()
		}
		if wl <= width {
			line.WriteString(word)
			n = wl
			continue
		}
		for _, part := range segments(word, breaks) {
			rs := []rune(part)
			if n > 0 && n+len(rs) > width {
				flush()
			}
			for len(rs) > width {
				lines = append(lines, string(rs[:width]))
				rs = rs[width:]
			}
			line.WriteString(string(rs))
			n += len(rs)
		}
	}
	if n > 0 || len(lines) == 0 {
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
