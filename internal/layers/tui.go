package layers

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// Explore runs the interactive view on a terminal: the layers on the
// left, the selected layer's changes as a tree on the right (+ added,
// ~ modified, - removed), with a filter and collapsible directories.
//
// Keys: up/down (k/j) move, tab switches pane, enter/space collapses or
// expands a directory, / filters by path (enter keeps, esc clears),
// a shows the whole image tree instead of the layer's changes, q quits.
func Explore(ctx context.Context, a *Analysis, in io.Reader, out io.Writer) error {
	m := newExplorer(a)
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithAltScreen())
	_, err := p.Run()
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

type pane int

const (
	paneLayers pane = iota
	paneTree
)

type treeRow struct {
	path   string // "/a/b"
	name   string
	depth  int
	dir    bool
	change string // Added, Modified, Removed, "" for a parent shown for context
	size   int64
	layer  int // for the image tree: the layer the path came from
}

type explorer struct {
	a             *Analysis
	width, height int
	focus         pane
	layer         int
	cursor        int // row in the tree pane
	offset        int // first visible row
	collapsed     map[string]bool
	filter        string
	editing       bool
	whole         bool // show the image tree instead of the layer's changes
	rows          []treeRow
}

func newExplorer(a *Analysis) *explorer {
	e := &explorer{a: a, width: 120, height: 30, collapsed: map[string]bool{}}
	e.rebuild()
	return e
}

func (e *explorer) Init() tea.Cmd { return nil }

func (e *explorer) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		e.width, e.height = msg.Width, msg.Height
	case tea.KeyMsg:
		if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
			// Keys typed quickly arrive as one message: one at a time.
			var cmd tea.Cmd
			for _, r := range msg.Runes {
				_, c := e.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
				if c != nil {
					cmd = c
				}
			}
			return e, cmd
		}
		if e.editing {
			switch msg.Type {
			case tea.KeyEnter:
				e.editing = false
			case tea.KeyEsc:
				e.editing, e.filter = false, ""
			case tea.KeyBackspace:
				if r := []rune(e.filter); len(r) > 0 {
					e.filter = string(r[:len(r)-1])
				}
			case tea.KeyRunes, tea.KeySpace:
				e.filter += string(msg.Runes)
			case tea.KeyCtrlC:
				return e, tea.Quit
			}
			e.cursor, e.offset = 0, 0
			e.rebuild()
			return e, nil
		}
		switch msg.String() {
		case "q", "ctrl+c":
			return e, tea.Quit
		case "tab":
			e.focus = 1 - e.focus
		case "/":
			e.editing, e.focus = true, paneTree
		case "esc":
			e.filter = ""
			e.rebuild()
		case "a":
			e.whole = !e.whole
			e.cursor, e.offset = 0, 0
			e.rebuild()
		case "up", "k":
			e.move(-1)
		case "down", "j":
			e.move(1)
		case "pgup":
			e.move(-e.treeHeight())
		case "pgdown":
			e.move(e.treeHeight())
		case "enter", " ":
			if e.focus == paneTree && e.cursor < len(e.rows) && e.rows[e.cursor].dir {
				p := e.rows[e.cursor].path
				e.collapsed[p] = !e.collapsed[p]
				e.rebuild()
			}
		}
	}
	return e, nil
}

func (e *explorer) move(d int) {
	if e.focus == paneLayers {
		e.layer = min(max(e.layer+d, 0), len(e.a.Layers)-1)
		e.cursor, e.offset = 0, 0
		e.rebuild()
		return
	}
	e.cursor = min(max(e.cursor+d, 0), max(len(e.rows)-1, 0))
	h := e.treeHeight()
	if e.cursor < e.offset {
		e.offset = e.cursor
	}
	if e.cursor >= e.offset+h {
		e.offset = e.cursor - h + 1
	}
}

func (e *explorer) treeHeight() int { return max(e.height-5, 3) }

// entries are the paths the tree pane shows before filtering.
func (e *explorer) entries() []treeRow {
	var out []treeRow
	if e.whole {
		for _, t := range e.a.Tree {
			out = append(out, treeRow{path: t.Path, dir: t.Type == "dir", size: t.Size, layer: t.Layer})
		}
		return out
	}
	if e.layer < len(e.a.Layers) {
		for _, c := range e.a.Layers[e.layer].Files {
			out = append(out, treeRow{path: c.Path, dir: c.Type == "dir", change: c.Change, size: c.Size, layer: e.layer})
		}
	}
	return out
}

// rebuild computes the visible rows: every entry matching the filter,
// with its parent directories, children of collapsed directories hidden.
func (e *explorer) rebuild() {
	e.rows = e.rows[:0]
	seen := map[string]bool{}
	for _, r := range e.entries() {
		if e.filter != "" && !strings.Contains(r.path, e.filter) {
			continue
		}
		// Parents first, for context.
		parts := strings.Split(strings.TrimPrefix(r.path, "/"), "/")
		hidden := false
		for i := 1; i < len(parts); i++ {
			pp := "/" + strings.Join(parts[:i], "/")
			if !seen[pp] {
				seen[pp] = true
				e.rows = append(e.rows, treeRow{path: pp, name: parts[i-1], depth: i - 1, dir: true, layer: -1})
			}
			if e.collapsed[pp] {
				hidden = true
				break
			}
		}
		if hidden {
			continue
		}
		if seen[r.path] {
			// A directory already shown as a parent: give it its change.
			for i := range e.rows {
				if e.rows[i].path == r.path {
					e.rows[i].change, e.rows[i].size, e.rows[i].layer = r.change, r.size, r.layer
				}
			}
			continue
		}
		seen[r.path] = true
		r.name, r.depth = path.Base(r.path), len(parts)-1
		e.rows = append(e.rows, r)
	}
	if e.cursor >= len(e.rows) {
		e.cursor = max(len(e.rows)-1, 0)
	}
}

var (
	styleTitle    = lipgloss.NewStyle().Bold(true)
	styleAdded    = lipgloss.NewStyle().Foreground(lipgloss.Color("2"))
	styleModified = lipgloss.NewStyle().Foreground(lipgloss.Color("3"))
	styleRemoved  = lipgloss.NewStyle().Foreground(lipgloss.Color("1"))
	styleCursor   = lipgloss.NewStyle().Reverse(true)
	styleFocus    = lipgloss.NewStyle().Border(lipgloss.NormalBorder()).BorderForeground(lipgloss.Color("6"))
	styleBlur     = lipgloss.NewStyle().Border(lipgloss.NormalBorder()).BorderForeground(lipgloss.Color("8"))
)

func (e *explorer) View() string {
	a := e.a
	head := styleTitle.Render(a.Image) + fmt.Sprintf("   efficiency %s   wasted %s   user wasted %s", Percent(a.Efficiency), Bytes(a.WastedBytes), userWastedText(a))
	leftW := min(max(e.width*2/5, 30), 70)
	rightW := max(e.width-leftW-4, 20)
	h := e.treeHeight()

	var left strings.Builder
	fmt.Fprintf(&left, "%s\n", styleTitle.Render(focusMark(e.focus == paneLayers)+"Layers"))
	for i, l := range a.Layers {
		line := fmt.Sprintf("%s%2d %8s  %s", cursorMark(i == e.layer), l.Index, Bytes(l.Size), oneLine(l.CreatedBy, max(leftW-18, 10)))
		if i == e.layer {
			line = styleCursor.Render(pad(line, leftW-2))
		}
		left.WriteString(line + "\n")
	}
	if e.layer < len(a.Layers) {
		l := a.Layers[e.layer]
		fmt.Fprintf(&left, "\n%s\n", styleTitle.Render(fmt.Sprintf("Layer %d", l.Index)))
		fmt.Fprintf(&left, "diff id  %s\nadded    %s\nmodified %s\nremoved  %s\n", shortDigest(l.DiffID), countText(l.Added), countText(l.Modified), countText(l.Removed))
	}
	if len(a.Wasted) > 0 {
		fmt.Fprintf(&left, "\n%s\n", styleTitle.Render("Biggest wasted paths"))
		for i, w := range a.Wasted {
			if i >= 5 {
				break
			}
			fmt.Fprintf(&left, "%8s %s\n", Bytes(w.Bytes), trimLeft(w.Path, leftW-12))
		}
	}

	var right strings.Builder
	title := fmt.Sprintf("Layer %d changes", e.layer)
	if e.whole {
		title = "Image tree (layer each path came from)"
	}
	switch {
	case e.editing:
		title += "   filter: " + e.filter + "▏"
	case e.filter != "":
		title += "   filter: " + e.filter
	}
	right.WriteString(styleTitle.Render(focusMark(e.focus == paneTree)+title) + "\n")
	end := min(e.offset+h, len(e.rows))
	for i := e.offset; i < end; i++ {
		right.WriteString(e.rowText(i, rightW-2) + "\n")
	}
	if len(e.rows) == 0 {
		right.WriteString("(nothing)\n")
	}
	ls, rs := styleBlur, styleFocus
	if e.focus == paneLayers {
		ls, rs = styleFocus, styleBlur
	}
	body := lipgloss.JoinHorizontal(lipgloss.Top,
		ls.Width(leftW).Height(h+1).Render(strings.TrimRight(left.String(), "\n")),
		rs.Width(rightW).Height(h+1).Render(strings.TrimRight(right.String(), "\n")))
	help := "tab pane · ↑↓ move · enter collapse · / filter · a image tree · q quit"
	return head + "\n" + body + "\n" + help
}

func (e *explorer) rowText(i, width int) string {
	r := e.rows[i]
	mark := " "
	style := lipgloss.NewStyle()
	switch r.change {
	case Added:
		mark, style = "+", styleAdded
	case Modified:
		mark, style = "~", styleModified
	case Removed:
		mark, style = "-", styleRemoved
	}
	fold := "  "
	if r.dir {
		fold = "▾ "
		if e.collapsed[r.path] {
			fold = "▸ "
		}
	}
	size := ""
	if !r.dir || r.change != "" {
		size = Bytes(r.size)
	}
	where := ""
	if e.whole && r.layer >= 0 {
		where = fmt.Sprintf("L%d ", r.layer)
	}
	here := i == e.cursor && e.focus == paneTree
	line := fmt.Sprintf("%s%s %s%9s  %s%s%s", cursorMark(here), mark, where, size, strings.Repeat("  ", r.depth), fold, r.name)
	line = pad(line, width)
	if here {
		return styleCursor.Render(line)
	}
	return style.Render(line)
}

// cursorMark marks the selected layer and the tree's cursor row with a
// character as well as in reverse video: a terminal without colours (or a
// shell with CI set, where the styling library drops every attribute)
// still shows where the cursor is.
func cursorMark(here bool) string {
	if here {
		return "› "
	}
	return "  "
}

// focusMark marks the pane the keys go to (also without colours).
func focusMark(focused bool) string {
	if focused {
		return "» "
	}
	return ""
}

func pad(s string, w int) string {
	r := []rune(s)
	if len(r) > w {
		return string(r[:max(w-1, 0)]) + "…"
	}
	return s + strings.Repeat(" ", w-len(r))
}

func trimLeft(s string, w int) string {
	r := []rune(s)
	if len(r) <= w || w < 2 {
		return s
	}
	return "…" + string(r[len(r)-w+1:])
}
