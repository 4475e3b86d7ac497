package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drydockscan/drydock/internal/buildinfo"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/misconfig"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/secret"
)

// maxDockerfiles caps the Dockerfiles one config scan reads.
const maxDockerfiles = 10_000

func (a *app) configCommand() *cobra.Command {
	var outputs []string
	var g gateFlags
	var allow []string
	cmd := &cobra.Command{
		Use:   "config PATH",
		Short: "Check Dockerfiles for misconfigurations",
		Long: `Check a Dockerfile, or every Dockerfile below a directory (Dockerfile,
Containerfile, Dockerfile.*, *.Dockerfile), with the same checks as an image
scan plus the multi-stage-aware build checks (unpinned and latest base images,
apt-get install without pins or cleanup, curl | sh). docs/checks.md lists them.`,
		Example: `  drydock config Dockerfile
  drydock config . --fail-on HIGH -o sarif=dockerfile.sarif`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runConfig(args[0], outputs, &g, allow)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&outputs, "output", "o", nil, "report FORMAT[=FILE]; repeatable (formats: "+formatNames()+"; default table)")
	f.StringSliceVar(&g.severity, "severity", nil, "show only findings of these severities")
	f.StringVar(&g.failOn, "fail-on", "", "fail (exit 1, or --exit-code) when a shown, unsuppressed finding is at or above this severity")
	f.IntVar(&g.exitCode, "exit-code", ExitPolicy, "exit code when the gate fails")
	f.StringVar(&g.ignoreFile, "ignore-file", ".drydock/ignore.yaml", "ignore file (id/path, reason, expires); a missing default file is fine")
	f.BoolVar(&g.noColor, "no-color", false, "no colour in the table")
	f.StringVar(&g.template, "template", "", "Go text/template for -o template, inline or @FILE")
	f.StringArrayVar(&allow, "secret-allow-regex", nil, "regular expression of secret values not reported; repeatable")
	return cmd
}

func (a *app) runConfig(target string, specs []string, g *gateFlags, allow []string) error {
	started := a.now()
	outputs, err := parseOutputs(specs)
	if err != nil {
		return err
	}
	pol, gate, err := a.policyFromFlags(g, started)
	if err != nil {
		return err
	}
	ropts, err := a.reportOptions(g)
	if err != nil {
		return err
	}
	sc, err := secret.New(secret.Options{Allow: secret.Allow{Regexes: allow}})
	if err != nil {
		return err
	}
	st, err := os.Stat(target)
	if err != nil {
		return err
	}
	root, files := filepath.Dir(target), []string{filepath.Base(target)}
	kind := "dockerfile"
	if st.IsDir() {
		root, files, kind = target, nil, "dir"
		err := filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() && misconfig.IsDockerfileName(d.Name()) {
				rel, err := filepath.Rel(target, p)
				if err != nil {
					return err
				}
				files = append(files, filepath.ToSlash(rel))
				if len(files) > maxDockerfiles {
					return fmt.Errorf("more than %d Dockerfiles", maxDockerfiles)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: %w", target, err)
		}
	}
	slices.Sort(files)
	ms := []finding.Misconfiguration{}
	for _, f := range files {
		found, err := misconfig.DockerfileAt(root, f, sc)
		if err != nil {
			return err
		}
		ms = append(ms, found...)
	}
	slices.SortStableFunc(ms, finding.CompareMisconfigurations)
	rep := report.New(report.Tool{Name: "drydock", Version: buildinfo.Version()},
		report.Target{Ref: target, Kind: kind}, &inventory.Inventory{})
	rep.Scanners = []string{"config"}
	rep.Misconfigurations = ms
	for _, w := range pipeline.Judge(rep, pol) {
		a.log.Warn(w)
	}
	pipeline.Verdict(rep, gate)
	_, fixed := a.sourceDate()
	rep.Scan = pipeline.Timing(started, fixed)
	a.log.Info("Dockerfiles checked", "files", strings.Join(files, ", "), "findings", len(ms))
	for _, out := range outputs {
		oo := ropts
		oo.Color = ropts.Color && (out.path == "" || out.path == "-")
		if err := writeOutput(out, rep, a.env.Stdout, oo); err != nil {
			return err
		}
	}
	return pipeline.Failed(rep, g.exitCode)
}
