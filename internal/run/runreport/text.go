package runreport

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"

	"github.com/drydockscan/drydock/internal/run"
)

func writeTable(w io.Writer, r *Report) error {
	b := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("%s (%s)\n", r.Target.Ref, r.Target.Platform)
	tracer := r.Tracer
	if r.Run.TracerMode != "" {
		tracer += " (" + r.Run.TracerMode + ")"
	}
	p("ran %s as %d:%d for %d ms (setup %d ms) with %s, tracer %s, network %s, root %s\n",
		strings.Join(r.Run.Args, " "), r.Run.UID, r.Run.GID, r.Run.RanMS, r.Run.SetupMS, r.Run.Runtime, tracer, r.Run.Network, r.Run.RootFS)
	exit := fmt.Sprintf("exit %d", r.Run.Exit.Code)
	if r.Run.Exit.Signal != "" {
		exit += " (" + r.Run.Exit.Signal + ")"
	}
	if r.Run.TimedOut {
		exit += ", stopped at the end of the run's duration"
	}
	p("%s; OOM kills %d, refused forks %d, CPU %.2f s\n\n", exit, r.Run.Counters.OOMKills, r.Run.Counters.PidsLimitHits, r.Run.Counters.CPUSeconds)

	p("ALERTS (%d)\n", len(r.Alerts))
	for _, a := range r.Alerts {
		p("  %-8s %-32s %s", a.Severity, a.Rule, a.Message)
		if a.Count > 1 {
			p(" (x%d)", a.Count)
		}
		if a.Evidence.Error != "" {
			p(" [refused: %s]", a.Evidence.Error)
		}
		p("\n")
	}
	p("\nPROCESSES\n")
	var tree func(ps []run.Process, depth int)
	tree = func(ps []run.Process, depth int) {
		for _, pr := range ps {
			cmd := strings.Join(pr.Argv, " ")
			if cmd == "" {
				cmd = pr.Exe
			}
			p("  %s%d %s\n", strings.Repeat("  ", depth), pr.PID, cmd)
			tree(pr.Children, depth+1)
		}
	}
	tree(r.Processes, 0)
	if len(r.Processes) == 0 {
		p("  (not recorded: tracer %s)\n", r.Tracer)
	}
	p("\nFILES WRITTEN (%d)\n", len(r.Files.Written))
	for _, f := range r.Files.Written {
		p("  %-9s %s", f.Access, f.Path)
		if f.Error != "" {
			p(" [refused: %s]", f.Error)
		}
		p("\n")
	}
	p("\nDNS (%d)\n", len(r.Network.DNS))
	for _, q := range r.Network.DNS {
		p("  %-5s %s %s\n", q.Type, q.Name, q.Answer)
	}
	p("\nCONNECTION ATTEMPTS (%d, none forwarded)\n", len(r.Network.Connections))
	for _, c := range r.Network.Connections {
		p("  %-5s %s:%d %s", c.Proto, c.Address, c.Port, c.Name)
		if c.Error != "" {
			p(" [%s]", c.Error)
		}
		p("\n")
	}
	p("\nLISTENING (%d)\n", len(r.Network.Listening))
	for _, l := range r.Network.Listening {
		ex := "not exposed"
		if l.Exposed {
			ex = "exposed"
		}
		p("  %-5s %s:%d %s\n", l.Proto, l.Address, l.Port, ex)
	}
	if r.PackagesInUse != nil {
		p("\nPACKAGES IN USE (%d)\n", len(r.PackagesInUse))
		for _, u := range r.PackagesInUse {
			p("  %-7s %s %s (%s: %s)\n", u.Type, u.Name, u.Version, u.How, u.Evidence)
		}
	}
	if len(r.Warnings) > 0 {
		p("\nWARNINGS\n")
		for _, w := range r.Warnings {
			p("  %s\n", w)
		}
	}
	if r.Gate != nil {
		verdict := "passed"
		if r.Gate.Failed {
			verdict = "FAILED"
		}
		p("\ngate --fail-on %s: %s (%d alert(s) at or above)\n", r.Gate.FailOn, verdict, r.Gate.Failing)
	}
	return b.Flush()
}

//go:embed report.html
var htmlTemplate string

// htmlTmpl is parsed on first use: every drydock process links this
// package, few write a run report.
var htmlTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("run").Funcs(template.FuncMap{
		"join": strings.Join,
	}).Parse(htmlTemplate))
})

func writeHTML(w io.Writer, r *Report) error {
	return htmlTmpl().Execute(w, r)
}
