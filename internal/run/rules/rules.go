// Package rules turns what a sandboxed run did into alerts, with rules in
// the style of Falco's: YAML files of lists, macros and rules whose
// conditions test fields of each event (proc.name, fd.name, net.addr, …).
// A default rule set is built in; custom files add rules, override rules
// and macros of the same name, append to lists, or disable rules.
package rules

import (
	_ "embed"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/sys/unix"

	"github.com/drydockscan/drydock/internal/finding"
)

//go:embed default.yaml
var defaultRules []byte

// DefaultFile is the name the built-in rules are known by in errors.
const DefaultFile = "default rules"

// MaxFileSize caps a rules file.
const MaxFileSize = 4 << 20

// item is one entry of a rules file.
type item struct {
	List      string   `yaml:"list"`
	Items     []any    `yaml:"items"`
	Macro     string   `yaml:"macro"`
	Rule      string   `yaml:"rule"`
	Desc      string   `yaml:"desc"`
	Condition string   `yaml:"condition"`
	Output    string   `yaml:"output"`
	Severity  string   `yaml:"severity"`
	Priority  string   `yaml:"priority"`
	Tags      []string `yaml:"tags"`
	Enabled   *bool    `yaml:"enabled"`
	Append    bool     `yaml:"append"`
	Line      int      `yaml:"-"`
}

// Rule is one compiled rule.
type Rule struct {
	ID       string
	Desc     string
	Severity finding.Severity
	Tags     []string
	Output   string
	Enabled  bool
	cond     node
	source   string
}

// Set is a compiled rule set.
type Set struct {
	Rules []*Rule
}

// builder accumulates files before compiling.
type builder struct {
	lists     map[string][]string
	macros    map[string]string
	macroSrc  map[string]string
	rules     []*item
	ruleIndex map[string]int
	ruleSrc   map[string]string
}

// Load compiles the default rules (unless noDefaults) and then each file,
// in order.
func Load(noDefaults bool, files map[string]io.Reader, order []string) (*Set, error) {
	b := &builder{lists: map[string][]string{}, macros: map[string]string{}, macroSrc: map[string]string{}, ruleIndex: map[string]int{}, ruleSrc: map[string]string{}}
	if !noDefaults {
		if err := b.add(DefaultFile, defaultRules); err != nil {
			return nil, err
		}
	}
	for _, name := range order {
		data, err := io.ReadAll(io.LimitReader(files[name], MaxFileSize+1))
		if err != nil {
			return nil, fmt.Errorf("rules file %s: %w", name, err)
		}
		if len(data) > MaxFileSize {
			return nil, fmt.Errorf("rules file %s: larger than %d bytes", name, MaxFileSize)
		}
		if err := b.add(name, data); err != nil {
			return nil, err
		}
	}
	return b.compile()
}

// Default compiles the built-in rules.
func Default() (*Set, error) { return Load(false, nil, nil) }

func (b *builder) add(name string, data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("rules file %s: %w", name, err)
	}
	if doc.Kind == 0 {
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.SequenceNode {
		return fmt.Errorf("rules file %s: want a YAML list of list:, macro: and rule: entries", name)
	}
	for _, n := range doc.Content[0].Content {
		var it item
		if err := n.Decode(&it); err != nil {
			return fmt.Errorf("rules file %s line %d: %w", name, n.Line, err)
		}
		it.Line = n.Line
		where := fmt.Sprintf("rules file %s line %d", name, n.Line)
		switch {
		case it.List != "":
			var vals []string
			for _, v := range it.Items {
				switch x := v.(type) {
				case string:
					vals = append(vals, x)
				case int:
					vals = append(vals, strconv.Itoa(x))
				case float64:
					vals = append(vals, strconv.FormatFloat(x, 'f', -1, 64))
				case bool:
					vals = append(vals, strconv.FormatBool(x))
				default:
					return fmt.Errorf("%s: list %s: item %v is not a scalar", where, it.List, v)
				}
			}
			if it.Append {
				b.lists[it.List] = append(b.lists[it.List], vals...)
			} else {
				b.lists[it.List] = vals
			}
		case it.Macro != "":
			if it.Condition == "" {
				return fmt.Errorf("%s: macro %s has no condition", where, it.Macro)
			}
			if !validName.MatchString(it.Macro) {
				return fmt.Errorf("%s: macro name %q: use letters, digits and _", where, it.Macro)
			}
			if _, clash := fields[it.Macro]; clash {
				return fmt.Errorf("%s: macro %s has the name of a field", where, it.Macro)
			}
			if it.Append && b.macros[it.Macro] != "" {
				b.macros[it.Macro] = "(" + b.macros[it.Macro] + ") or (" + it.Condition + ")"
			} else {
				b.macros[it.Macro] = it.Condition
			}
			b.macroSrc[it.Macro] = where
		case it.Rule != "":
			cp := it
			if i, ok := b.ruleIndex[it.Rule]; ok {
				old := b.rules[i]
				// Overriding: a rule entry with only "enabled" (or
				// append) changes the existing rule.
				switch {
				case it.Condition == "" && it.Enabled != nil:
					old.Enabled = it.Enabled
				case it.Append:
					old.Condition = "(" + old.Condition + ") " + it.Condition
				default:
					b.rules[i] = &cp
				}
				b.ruleSrc[it.Rule] = where
				continue
			}
			if it.Condition == "" {
				return fmt.Errorf("%s: rule %q has no condition", where, it.Rule)
			}
			b.ruleIndex[it.Rule] = len(b.rules)
			b.rules = append(b.rules, &cp)
			b.ruleSrc[it.Rule] = where
		default:
			return fmt.Errorf("%s: an entry must be a list, a macro or a rule", where)
		}
	}
	return nil
}

var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (b *builder) compile() (*Set, error) {
	compiled := map[string]node{}
	var compiling []string
	var macro func(name string) (node, error)
	macro = func(name string) (node, error) {
		if n, ok := compiled[name]; ok {
			return n, nil
		}
		cond, ok := b.macros[name]
		if !ok {
			return nil, nil
		}
		if slices.Contains(compiling, name) {
			return nil, fmt.Errorf("macro %s refers to itself (%s)", name, strings.Join(append(compiling, name), " -> "))
		}
		compiling = append(compiling, name)
		n, err := compile(cond, b.lists, macro)
		compiling = compiling[:len(compiling)-1]
		if err != nil {
			return nil, fmt.Errorf("macro %s (%s): %w", name, b.macroSrc[name], err)
		}
		compiled[name] = n
		return n, nil
	}
	set := &Set{}
	for _, it := range b.rules {
		sev, err := severity(it)
		if err != nil {
			return nil, fmt.Errorf("%s: rule %q: %w", b.ruleSrc[it.Rule], it.Rule, err)
		}
		n, err := compile(it.Condition, b.lists, macro)
		if err != nil {
			return nil, fmt.Errorf("%s: rule %q: %w", b.ruleSrc[it.Rule], it.Rule, err)
		}
		enabled := it.Enabled == nil || *it.Enabled
		set.Rules = append(set.Rules, &Rule{ID: it.Rule, Desc: strings.TrimSpace(it.Desc), Severity: sev, Tags: it.Tags, Output: strings.TrimSpace(it.Output), Enabled: enabled, cond: n, source: b.ruleSrc[it.Rule]})
	}
	return set, nil
}

// severity reads a rule's severity: drydock's words, or Falco's priority.
func severity(it *item) (finding.Severity, error) {
	if it.Severity != "" {
		s, ok := finding.ParseSeverity(it.Severity)
		if !ok {
			return "", fmt.Errorf("unknown severity %q", it.Severity)
		}
		return s, nil
	}
	switch strings.ToLower(it.Priority) {
	case "emergency", "alert", "critical":
		return finding.Critical, nil
	case "error":
		return finding.High, nil
	case "warning", "":
		return finding.Medium, nil
	case "notice":
		return finding.Low, nil
	case "informational", "info", "debug":
		return finding.Negligible, nil
	}
	return "", fmt.Errorf("unknown priority %q", it.Priority)
}

// Evidence is what an alert rests on.
type Evidence struct {
	Source  string   `json:"source"`
	PID     int      `json:"pid,omitempty"`
	PPID    int      `json:"ppid,omitempty"`
	UID     *int     `json:"uid,omitempty"`
	Argv    []string `json:"argv,omitempty"`
	Parent  string   `json:"parent,omitempty"`
	Path    string   `json:"path,omitempty"`
	Access  string   `json:"access,omitempty"`
	Proto   string   `json:"proto,omitempty"`
	Address string   `json:"address,omitempty"`
	Port    int      `json:"port,omitempty"`
	Name    string   `json:"name,omitempty"`
	// Result is the system call's result; Error names a refusal
	// ("EACCES").
	Result *int   `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
	Limit  string `json:"limit,omitempty"`
}

// Alert is one rule that fired, with its evidence.
type Alert struct {
	Rule     string           `json:"rule"`
	Severity finding.Severity `json:"severity"`
	Time     time.Time        `json:"time"`
	Message  string           `json:"message"`
	Tags     []string         `json:"tags,omitempty"`
	Evidence Evidence         `json:"evidence"`
	// Count is how many events gave the same evidence.
	Count int `json:"count"`
}

// Evaluate runs every enabled rule over the events and returns the alerts,
// one per rule and evidence (repeats counted), sorted by severity, then
// time.
func (s *Set) Evaluate(events []Event) []Alert {
	var out []Alert
	index := map[string]int{}
	for i := range events {
		e := &events[i]
		for _, r := range s.Rules {
			if !r.Enabled || !safeEval(r.cond, e) {
				continue
			}
			ev := evidence(e)
			key := r.ID + "\x00" + ev.key()
			if j, ok := index[key]; ok {
				out[j].Count++
				out[j].Evidence.fill(ev)
				continue
			}
			index[key] = len(out)
			out = append(out, Alert{Rule: r.ID, Severity: r.Severity, Time: e.Time, Message: render(r.Output, e), Tags: r.Tags, Evidence: ev, Count: 1})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := out[i].Severity.Rank(), out[j].Severity.Rank(); a != b {
			return a > b
		}
		return out[i].Time.Before(out[j].Time)
	})
	if out == nil {
		out = []Alert{}
	}
	return out
}

func safeEval(n node, e *Event) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return n.eval(e)
}

func evidence(e *Event) Evidence {
	ev := Evidence{Source: e.Source, PID: e.PID, PPID: e.PPID, Argv: e.Argv, Parent: e.Parent, Path: e.Path, Access: e.Access, Proto: e.Proto, Address: e.Addr, Port: e.Port, Name: e.DNSName, Limit: e.Limit}
	if e.Source == SourceTrace {
		uid := e.UID
		ev.UID = &uid
	}
	if e.HasResult {
		r := e.Result
		ev.Result = &r
		if r < 0 {
			ev.Error = errnoName(-r)
		}
	}
	return ev
}

// key identifies the evidence for de-duplication: the same thing done
// again (a retried connection, a file written twice) is one alert.
func (ev Evidence) key() string {
	fail := ev.Error
	switch {
	case ev.Address != "" || ev.Port != 0:
		// The observer sees the attempt, the tracer the refusal: one
		// attempt.
		return fmt.Sprintf("net|%s|%d", ev.Address, ev.Port)
	case ev.Path != "":
		return "path|" + ev.Path + "|" + ev.Access + "|" + fail
	case ev.Name != "":
		return "name|" + ev.Name
	case ev.Limit != "":
		return "limit|" + ev.Limit
	}
	return fmt.Sprintf("proc|%d|%s", ev.PID, strings.Join(ev.Argv, " "))
}

// fill completes the evidence with what another source knew (the tracer
// knows the process of a connection, the observer its DNS name).
func (ev *Evidence) fill(o Evidence) {
	if ev.PID == 0 && o.PID != 0 {
		ev.PID, ev.PPID, ev.Argv, ev.Parent, ev.UID = o.PID, o.PPID, o.Argv, o.Parent, o.UID
	}
	if ev.Name == "" {
		ev.Name = o.Name
	}
	if ev.Proto == "" {
		ev.Proto = o.Proto
	}
	if ev.Result == nil && o.Result != nil {
		ev.Result, ev.Error = o.Result, o.Error
	}
	if ev.Source != o.Source && !strings.Contains(ev.Source, o.Source) {
		ev.Source += "+" + o.Source
	}
}

var outputField = regexp.MustCompile(`%[a-z_]+\.[a-z_]+`)

// render fills a rule's output with the event's fields; fields without a
// value print nothing.
func render(tmpl string, e *Event) string {
	s := outputField.ReplaceAllStringFunc(tmpl, func(m string) string {
		f, ok := fields[m[1:]]
		if !ok {
			return m
		}
		return f.get(e).String()
	})
	return strings.Join(strings.Fields(s), " ")
}

func errnoName(n int) string {
	if name := unix.ErrnoName(syscall.Errno(n)); name != "" {
		return name
	}
	return "errno " + strconv.Itoa(n)
}
