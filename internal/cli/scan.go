package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/buildinfo"
	"github.com/drydockscan/drydock/internal/cache"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/policy"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/source"
)

// scanFlags are the flags of the scanning commands.
type scanFlags struct {
	outputs  []string
	platform string
	insecure bool
	username string
	password string
	token    string
	parallel int
	imageSrc []string

	db       dbFlags
	scanners []string
	osOwned  bool
	gate     gateFlags
	cache    cacheFlags
	client   clientFlags
	kinds    kindFlags

	// runtimeEvents is a drydock run --events file; onlyInUse shows only
	// the findings in packages that run used.
	runtimeEvents string
	onlyInUse     bool
}

// gateFlags decide what is shown and when the scan fails.
type gateFlags struct {
	severity      []string
	failOn        string
	exitCode      int
	ignoreUnfixed bool
	ignoreFile    string
	vex           []string
	noColor       bool
	template      string
}

func (o *scanFlags) register(fs *pflag.FlagSet, image bool) {
	fs.StringArrayVarP(&o.outputs, "output", "o", nil, "report FORMAT[=FILE]; repeat for several reports from one scan (formats: "+formatNames()+"; default table)")
	fs.IntVar(&o.parallel, "parallel", 0, "layers analysed at once (default: number of CPUs)")
	if image {
		fs.StringVar(&o.platform, "platform", "", "platform to pick from multi-platform images, os/arch[/variant] (default: the only one, else linux/<host arch>)")
		fs.BoolVar(&o.insecure, "insecure", false, "allow plain HTTP and unverified TLS to registries")
		fs.StringVar(&o.username, "username", "", "registry user name (default: Docker credentials)")
		fs.StringVar(&o.password, "password", "", "registry password (prefer DRYDOCK_PASSWORD)")
		fs.StringVar(&o.token, "registry-token", "", "registry bearer token")
		fs.StringSliceVar(&o.imageSrc, "image-src", nil, "where a bare NAME:TAG is looked for, in order: docker, podman, registry (default docker,podman,registry)")
		o.cache.register(fs, true)
		fs.StringVar(&o.runtimeEvents, "runtime-events", "", "events FILE of a run of this image (drydock run --events): mark the packages it used and the findings in them in_use")
		fs.BoolVar(&o.onlyInUse, "only-in-use", false, "show only findings in packages the run used (needs --runtime-events; like --severity, the gate counts what is shown)")
	}
	fs.StringSliceVar(&o.scanners, "scanners", pipeline.DefaultScanners, "what to look for beyond the inventory: vuln, secret, config, license, or none for the inventory only")
	o.kinds.register(fs)
	fs.BoolVar(&o.osOwned, "match-os-owned", false, "also match language packages that an OS package installed against the language feeds (default: only through the OS feed)")
	o.db.register(fs, true)
	g := &o.gate
	fs.StringSliceVar(&g.severity, "severity", nil, "show only findings of these severities (CRITICAL,HIGH,MEDIUM,LOW,NEGLIGIBLE,UNKNOWN)")
	fs.StringVar(&g.failOn, "fail-on", "", "fail (exit 1, or --exit-code) when a shown, unsuppressed finding is at or above this severity")
	fs.IntVar(&g.exitCode, "exit-code", ExitPolicy, "exit code when the gate fails; given without --fail-on, any shown unsuppressed finding fails")
	fs.BoolVar(&g.ignoreUnfixed, "ignore-unfixed", false, "hide findings that have no fixed version (unfixed, will not fix)")
	fs.StringVar(&g.ignoreFile, "ignore-file", policy.DefaultIgnoreFile, "ignore file (YAML: id/package/path, reason, expires); a missing default file is fine")
	fs.StringArrayVar(&g.vex, "vex", nil, "VEX document (OpenVEX or CycloneDX VEX) whose not_affected/fixed statements suppress findings; repeatable")
	fs.BoolVar(&g.noColor, "no-color", false, "no colour in the table (also when NO_COLOR is set)")
	fs.StringVar(&g.template, "template", "", "Go text/template for -o template, inline or @FILE")
}

func formatNames() string {
	var n []string
	for _, f := range report.Formats() {
		n = append(n, f.Name)
	}
	return strings.Join(n, ", ")
}

func (a *app) imageCommand() *cobra.Command {
	var o scanFlags
	cmd := &cobra.Command{
		Use:   "image TARGET",
		Short: "Scan a container image",
		Long: `Scan a container image: a docker save archive, an OCI layout (directory or tar),
a registry reference, an image in a Docker or Podman engine, a Singularity/Apptainer
SIF or squashfs file, or a root file-system directory. The kind is detected (a bare
NAME:TAG is looked for in the local engines first, see --image-src); prefixes force
it: docker-archive:PATH[:TAG], oci:PATH[:REF], oci-archive:PATH[:REF], registry:REF,
docker:NAME, podman:NAME, sif:FILE, squashfs:FILE, dir:PATH.`,
		Example: `  drydock image ../shared/corpus/debian12-app/oci
  drydock image registry.example.com/team/app:1.4 -o json=report.json -o table
  drydock image --platform linux/arm64 oci:./layout:latest
  drydock image docker:app:1.4
  drydock image ./pytorch.sif`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runScan(cmd.Context(), args[0], analyze.ModeImage, &o)
		},
	}
	o.register(cmd.Flags(), true)
	o.client.register(cmd)
	return cmd
}

func (a *app) fsCommand() *cobra.Command {
	var o scanFlags
	cmd := &cobra.Command{
		Use:   "fs DIR",
		Short: "Scan a project directory (lock files, manifests, binaries)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runScan(cmd.Context(), "dir:"+args[0], analyze.ModeFS, &o)
		},
	}
	o.register(cmd.Flags(), false)
	o.client.register(cmd)
	return cmd
}

// output is one requested report.
type output struct {
	format report.Format
	path   string // "" for stdout
}

func parseOutputs(specs []string) ([]output, error) {
	if len(specs) == 0 {
		specs = []string{"table"}
	}
	var out []output
	for _, s := range specs {
		name, path, _ := strings.Cut(s, "=")
		f, err := report.Lookup(name)
		if err != nil {
			return nil, err
		}
		out = append(out, output{format: f, path: path})
	}
	return out, nil
}

func (a *app) runScan(ctx context.Context, target string, mode analyze.Mode, o *scanFlags) error {
	return a.scan(ctx, target, mode, o, nil)
}

// scan runs the pipeline on target, or, when inv is given, matches and
// judges that inventory (an SBOM's).
func (a *app) scan(ctx context.Context, target string, mode analyze.Mode, o *scanFlags, inv *pipeline.Inventoried) error {
	started := a.now()
	outputs, err := parseOutputs(o.outputs)
	if err != nil {
		return err
	}
	scanners, err := pipeline.ParseScanners(o.scanners)
	if err != nil {
		return err
	}
	kinds, err := o.kinds.options()
	if err != nil {
		return err
	}
	pol, gate, err := a.policyFromFlags(&o.gate, started)
	if err != nil {
		return err
	}
	ropts, err := a.reportOptions(&o.gate)
	if err != nil {
		return err
	}
	for _, out := range outputs {
		if out.format.Name == "template" && ropts.Template == "" {
			return fmt.Errorf("-o template: %w (give --template TEXT or --template @FILE)", report.ErrNoTemplate)
		}
	}
	if o.onlyInUse && o.runtimeEvents == "" {
		return fmt.Errorf("--only-in-use needs --runtime-events FILE (the events of a drydock run of the image)")
	}
	_, fixed := a.sourceDate()
	req := pipeline.Request{
		Target: target,
		Inventory: pipeline.InventoryOptions{
			Mode: mode,
			Source: source.Options{Insecure: o.insecure, Username: o.username, Password: o.password, Token: o.token,
				DockerHost: a.env.Getenv("DOCKER_HOST"), PodmanHost: a.env.Getenv("CONTAINER_HOST")},
			Parallel: o.parallel,
			Logger:   a.log,
			Scanners: scanners,
			Secret:   kinds.secret,
		},
		Scanners:   scanners,
		License:    kinds.license,
		Compliance: kinds.compliance,
		Rules:      kinds.rules,
		Policy:     pol,
		Gate:       gate,
		Tool:       report.Tool{Name: "drydock", Version: buildinfo.Version()},
		Started:    started,
		FixedTime:  fixed,
	}
	if o.platform != "" {
		p, err := source.ParsePlatform(o.platform)
		if err != nil {
			return err
		}
		req.Inventory.Source.Platform = p
	}
	if req.Inventory.Source.ImageSources, err = source.ParseImageSources(o.imageSrc); err != nil {
		return err
	}
	if o.runtimeEvents != "" {
		if req.InUse, err = pipeline.LoadInUse(o.runtimeEvents, o.onlyInUse); err != nil {
			return err
		}
	}
	if mode == analyze.ModeImage && inv == nil {
		c, err := a.openCache(ctx, &o.cache)
		if err != nil {
			return err
		}
		if c != nil {
			defer c.Close()
			req.Inventory.Cache = c
		}
	}
	remote, err := o.client.matcher()
	if err != nil {
		return err
	}
	switch {
	case scanners.Vuln && remote != nil:
		// Client mode: the server matches (and stores) the inventory.
		req.Matcher = remote
	case scanners.Vuln:
		db, err := a.dbSetup(&o.db)
		if err != nil {
			return err
		}
		// The database is made ready before the image is read, so a scan
		// that cannot match fails early, and stays open for the match.
		sdb, err := pipeline.OpenDB(ctx, db)
		if err != nil {
			return err
		}
		defer sdb.Close()
		req.Matcher = &pipeline.LocalMatcher{Path: db.Path, DB: sdb, IncludeOSOwned: o.osOwned, Logger: a.log}
	}
	var rep *report.Report
	if inv != nil {
		rep, err = pipeline.Complete(ctx, req, inv)
	} else {
		rep, err = pipeline.Run(ctx, req)
	}
	if err != nil {
		return err
	}
	if inv == nil && mode == analyze.ModeImage && slices.ContainsFunc(outputs, func(o output) bool { return o.format.Name == "html" }) {
		// The HTML report's layers section reads the layers once more.
		if rep.LayerStats, err = a.layerStats(ctx, target, req.Inventory.Source, o.parallel); err != nil {
			return err
		}
	}
	for _, out := range outputs {
		oo := ropts
		oo.Color = ropts.Color && (out.path == "" || out.path == "-")
		if err := writeOutput(out, rep, a.env.Stdout, oo); err != nil {
			return err
		}
	}
	if err := pipeline.Failed(rep, o.gate.exitCode); err != nil {
		a.log.Info("gate failed", "reason", err.Error())
		return err
	}
	return nil
}

// openCache opens the layer cache of a scan; nil when it is off. A cache
// that cannot be reached is warned about and the scan goes on without it:
// it only saves time.
func (a *app) openCache(ctx context.Context, f *cacheFlags) (*cache.Cache, error) {
	switch f.backend {
	case cache.BackendFS, cache.BackendRedis, cache.BackendNone:
	default:
		return nil, fmt.Errorf("--cache-backend: unknown backend %q (have: fs, redis, none)", f.backend)
	}
	if f.backend == cache.BackendRedis && f.redisURL == "" && !f.off {
		return nil, fmt.Errorf("--cache-backend redis needs --cache-redis-url redis://HOST:PORT or rediss://HOST:PORT")
	}
	s, err := f.open(ctx)
	if err != nil {
		a.log.Warn("layer cache unavailable, scanning without it", "error", err)
		return nil, nil
	}
	if s == nil {
		return nil, nil
	}
	return cache.New(s, a.log), nil
}

// now is the scan's start time: SOURCE_DATE_EPOCH when set, so reports
// are reproducible.
func (a *app) now() time.Time {
	if t, ok := a.sourceDate(); ok {
		return t
	}
	return time.Now()
}

func (a *app) sourceDate() (time.Time, bool) {
	v := a.env.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(sec, 0).UTC(), true
}

// policyFromFlags reads the gate flags, the ignore file and the VEX
// documents.
func (a *app) policyFromFlags(g *gateFlags, now time.Time) (policy.Options, *report.Gate, error) {
	p := policy.Options{IgnoreUnfixed: g.ignoreUnfixed, Now: now}
	for _, s := range g.severity {
		sev, ok := finding.ParseSeverity(s)
		if !ok {
			return p, nil, fmt.Errorf("--severity: unknown severity %q", s)
		}
		p.Severities = append(p.Severities, sev)
	}
	var gate *report.Gate
	switch {
	case g.failOn != "":
		sev, ok := finding.ParseSeverity(g.failOn)
		if !ok {
			return p, nil, fmt.Errorf("--fail-on: unknown severity %q", g.failOn)
		}
		gate = &report.Gate{FailOn: sev}
	case g.exitCode != ExitPolicy:
		gate = &report.Gate{FailOn: finding.Unknown}
	}
	if g.exitCode == ExitError {
		return p, nil, fmt.Errorf("--exit-code %d is reserved for errors", ExitError)
	}
	if g.exitCode < 0 || g.exitCode > 125 {
		return p, nil, fmt.Errorf("--exit-code %d: want 0…125", g.exitCode)
	}
	if g.ignoreFile != "" {
		ig, err := policy.LoadIgnoreFile(g.ignoreFile)
		switch {
		case err == nil:
			p.Ignore = ig
		case errors.Is(err, fs.ErrNotExist) && g.ignoreFile == policy.DefaultIgnoreFile:
		default:
			return p, nil, err
		}
	}
	for _, path := range g.vex {
		v, err := policy.LoadVEX(path)
		if err != nil {
			return p, nil, err
		}
		p.VEX = append(p.VEX, v)
	}
	return p, gate, nil
}

// reportOptions are the writers' options common to every output.
func (a *app) reportOptions(g *gateFlags) (report.Options, error) {
	o := report.Options{
		Color: a.env.StdoutIsTerminal && !g.noColor && a.env.Getenv("NO_COLOR") == "",
		Width: a.env.Width,
	}
	if g.template != "" {
		t := g.template
		if name, ok := strings.CutPrefix(t, "@"); ok {
			b, err := os.ReadFile(name)
			if err != nil {
				return o, fmt.Errorf("--template: %w", err)
			}
			t = string(b)
		}
		o.Template = t
	}
	return o, nil
}

// writeOutput writes one report to stdout or, atomically, to a file.
func writeOutput(out output, rep *report.Report, stdout io.Writer, o report.Options) error {
	if out.path == "" || out.path == "-" {
		return out.format.Write(stdout, rep, o)
	}
	if st, err := os.Stat(out.path); err == nil && !st.Mode().IsRegular() {
		// A device or pipe (/dev/null, /dev/stdout, a FIFO): write to it.
		f, err := os.OpenFile(out.path, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("writing %s report: %w", out.format.Name, err)
		}
		werr := out.format.Write(f, rep, o)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("writing %s report to %s: %w", out.format.Name, out.path, werr)
		}
		return nil
	}
	dir := filepath.Dir(out.path)
	f, err := os.CreateTemp(dir, ".drydock-report-*")
	if err != nil {
		return fmt.Errorf("writing %s report: %w", out.format.Name, err)
	}
	defer os.Remove(f.Name())
	if err := out.format.Write(f, rep, o); err != nil {
		f.Close()
		return fmt.Errorf("writing %s report to %s: %w", out.format.Name, out.path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), out.path)
}
