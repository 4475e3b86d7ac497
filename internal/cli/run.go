package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/buildinfo"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/run"
	"github.com/drydockscan/drydock/internal/run/rules"
	"github.com/drydockscan/drydock/internal/run/runreport"
	"github.com/drydockscan/drydock/internal/run/sandbox"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
)

// runTracers are the tracers built into drydock run, in order of
// preference (--tracer auto takes the first that attaches).
func runTracers() []run.TracerFactory {
	return run.BuiltinTracers()
}

// runFlags are the flags of drydock run.
type runFlags struct {
	outputs    []string
	duration   time.Duration
	user       string
	entrypoint string
	network    string
	pcap       string
	events     string
	tracer     string
	runtime    string
	dockerHost string
	rules      []string
	noDefaults bool
	allowNet   []string
	memory     string
	cpus       float64
	pids       int64
	inUse      bool
	failOn     string
	exitCode   int
	platform   string
	insecure   bool
	username   string
	password   string
	token      string
}

func (a *app) runCommand() *cobra.Command {
	var o runFlags
	cmd := &cobra.Command{
		Use:   "run IMAGE [flags] [-- COMMAND ARGS...]",
		Short: "Run an image briefly in a sandbox, record what it does, alert on rules",
		Long: `Run an image's entrypoint and command (or the command after --) in a sandbox for
--duration or until it exits, record its behaviour — processes, files, DNS names,
connection attempts, listening ports — and raise alerts with Falco-style rules.

The sandbox is an OCI runtime container (runc or crun) with its own user, mount, pid,
network, ipc and uts namespaces, a copy-on-write root file system unpacked from the
image, memory, CPU and pid limits, Docker's default seccomp profile and capabilities;
--runtime docker makes it a Docker engine's container instead.
Its only network is drydock itself: DNS is answered (with sinkhole addresses) and
recorded, every connection attempt is recorded and refused, nothing is forwarded.
Needs root. Exit codes: 0 pass, 1 --fail-on met by an alert, 2 error.`,
		Example: `  drydock run ../shared/corpus/debian12-app/oci --duration 10s
  drydock run app.tar -o json=run.json --pcap run.pcapng --events events.jsonl --fail-on high
  drydock run busybox.tar --tracer none -- sh -c 'nslookup example.org'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var command []string
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				if dash != 1 {
					return fmt.Errorf("give one IMAGE, then the command after --")
				}
				command = args[1:]
			} else if len(args) > 1 {
				return fmt.Errorf("unexpected %q: give the command to run after -- (drydock run IMAGE -- %s)", args[1], strings.Join(args[1:], " "))
			}
			return a.runSandbox(cmd.Context(), args[0], command, &o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.outputs, "output", "o", nil, "report FORMAT[=FILE]; repeat for several (formats: table, json, html; default table)")
	f.DurationVar(&o.duration, "duration", run.DefaultDuration, "how long the image may run before it is stopped")
	f.StringVar(&o.user, "user", "", "user[:group] to run as, names or ids, as docker run --user (default: the image's user)")
	f.StringVar(&o.entrypoint, "entrypoint", "", "replace the image's entrypoint (the command after -- becomes its arguments)")
	f.StringVar(&o.network, "network", run.NetworkObserve, "observe (DNS answered and recorded, attempts recorded, nothing forwarded) or none (loopback only)")
	f.StringVar(&o.pcap, "pcap", "", "write the sandbox's packets to FILE (pcapng; tshark and Wireshark read it)")
	f.StringVar(&o.events, "events", "", "write the recorded events to FILE as JSON lines")
	f.StringVar(&o.tracer, "tracer", run.TracerAuto, "auto (ebpf if it loads, else ptrace), ebpf, ptrace, or none (network and file changes only)")
	f.StringVar(&o.runtime, "runtime", "", "runc, crun or a path (default: runc, else crun), or docker to run in a Docker engine")
	f.StringVar(&o.dockerHost, "docker-host", "", "the Docker engine's API address for --runtime docker and docker images (default: DOCKER_HOST, else unix:///var/run/docker.sock)")
	f.StringArrayVar(&o.rules, "rules", nil, "rules FILE (YAML, Falco style) after the default rules; repeatable")
	f.BoolVar(&o.noDefaults, "no-default-rules", false, "use only the --rules files")
	f.StringArrayVar(&o.allowNet, "allow-net", nil, "address or CIDR outbound connections may go to without an alert; repeatable")
	f.StringVar(&o.memory, "memory", "512m", "memory limit (bytes, or with k, m, g)")
	f.Float64Var(&o.cpus, "cpus", 1, "CPU limit in CPUs")
	f.Int64Var(&o.pids, "pids", 256, "limit of processes and threads")
	f.BoolVar(&o.inUse, "packages-in-use", true, "read the image's inventory and report the packages the run used")
	f.StringVar(&o.failOn, "fail-on", "", "fail (exit 1, or --exit-code) when an alert is at or above this severity")
	f.IntVar(&o.exitCode, "exit-code", ExitPolicy, "exit code when the gate fails")
	f.StringVar(&o.platform, "platform", "", "platform to pick from multi-platform images, os/arch[/variant]")
	f.BoolVar(&o.insecure, "insecure", false, "allow plain HTTP and unverified TLS to registries")
	f.StringVar(&o.username, "username", "", "registry user name (default: Docker credentials)")
	f.StringVar(&o.password, "password", "", "registry password (prefer DRYDOCK_PASSWORD)")
	f.StringVar(&o.token, "registry-token", "", "registry bearer token")
	return cmd
}

// parseBytes reads "512m", "1g", "65536".
func parseBytes(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--memory %q: want a size such as 512m", s)
	}
	return n * mult, nil
}

func (a *app) runSandbox(ctx context.Context, target string, command []string, o *runFlags) error {
	type out struct{ format, path string }
	var outs []out
	specs := o.outputs
	if len(specs) == 0 {
		specs = []string{"table"}
	}
	for _, s := range specs {
		name, p, _ := strings.Cut(s, "=")
		found := false
		for _, f := range runreport.Formats {
			found = found || f == name
		}
		if !found {
			return fmt.Errorf("-o %s: drydock run writes %s", name, strings.Join(runreport.Formats, ", "))
		}
		outs = append(outs, out{name, p})
	}
	var failOn finding.Severity
	if o.failOn != "" {
		sev, ok := finding.ParseSeverity(o.failOn)
		if !ok {
			return fmt.Errorf("--fail-on: unknown severity %q", o.failOn)
		}
		failOn = sev
	}
	if o.exitCode == ExitError || o.exitCode < 0 || o.exitCode > 125 {
		return fmt.Errorf("--exit-code %d: want 0…125, not %d", o.exitCode, ExitError)
	}
	mem, err := parseBytes(o.memory)
	if err != nil {
		return err
	}
	dockerHost := o.dockerHost
	if dockerHost == "" {
		dockerHost = a.env.Getenv("DOCKER_HOST")
	}
	var initBinary string
	if o.runtime == run.RuntimeDocker {
		// drydock itself is the container's first program (holdinit).
		if initBinary, err = os.Executable(); err != nil {
			return fmt.Errorf("--runtime docker: finding drydock's own executable: %w", err)
		}
	}
	set, err := loadRules(o)
	if err != nil {
		return err
	}
	opts := run.Options{
		Runtime: o.runtime, DockerHost: dockerHost, InitBinary: initBinary, Command: command, User: o.user, Duration: o.duration, Network: o.network,
		Tracer: o.tracer, Tracers: runTracers(), Logger: a.log,
		Limits: sandbox.Limits{MemoryBytes: mem, CPUs: o.cpus, Pids: o.pids},
	}
	if o.entrypoint != "" {
		opts.Entrypoint = []string{o.entrypoint}
		if command == nil {
			opts.Command = []string{}
		}
	}
	sopts := source.Options{DockerHost: dockerHost, PodmanHost: a.env.Getenv("CONTAINER_HOST"), Insecure: o.insecure, Username: o.username, Password: o.password, Token: o.token, Logger: a.log}
	if o.platform != "" {
		p, err := source.ParsePlatform(o.platform)
		if err != nil {
			return err
		}
		sopts.Platform = p
	}
	img, err := source.Open(ctx, target, sopts)
	if err != nil {
		return err
	}
	defer img.Close()

	var pcapFile *os.File
	if o.pcap != "" {
		if pcapFile, err = os.Create(o.pcap); err != nil {
			return fmt.Errorf("--pcap: %w", err)
		}
		defer pcapFile.Close()
		opts.Pcap = pcapFile
	}
	res, err := run.Run(ctx, img, opts)
	if err != nil {
		if pcapFile != nil {
			pcapFile.Close()
			os.Remove(o.pcap)
		}
		return err
	}
	if pcapFile != nil {
		if err := pcapFile.Close(); err != nil {
			return fmt.Errorf("--pcap: %w", err)
		}
	}
	if o.events != "" {
		if err := writeFileAtomic(o.events, func(w io.Writer) error { return run.WriteEvents(w, res.Events) }); err != nil {
			return fmt.Errorf("--events: %w", err)
		}
	}
	var inUse []run.InUse
	if o.inUse {
		sres, err := scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage), Logger: a.log})
		if err != nil {
			return fmt.Errorf("reading the inventory for the packages in use: %w", err)
		}
		inUse = run.PackagesInUse(res.Events, &sres.Inventory, run.InUseOptions{})
	}
	it := pipeline.TargetOf(img)
	t := runreport.Target{Ref: it.Ref, Kind: it.Kind, Name: it.Name, Platform: it.Platform, ConfigDigest: it.ConfigDigest}
	rep := runreport.Build(runreport.Tool{Name: "drydock", Version: buildinfo.Version()}, t, res, set, inUse, opts.Duration)
	if o.failOn != "" {
		rep.Apply(failOn)
	}
	for _, w := range rep.Warnings {
		a.log.Debug("run warning", "warning", w)
	}
	for _, ot := range outs {
		if ot.path == "" || ot.path == "-" {
			if err := runreport.Write(a.env.Stdout, ot.format, rep); err != nil {
				return err
			}
			continue
		}
		if err := writeFileAtomic(ot.path, func(w io.Writer) error { return runreport.Write(w, ot.format, rep) }); err != nil {
			return fmt.Errorf("writing the %s run report: %w", ot.format, err)
		}
	}
	if rep.Gate != nil && rep.Gate.Failed {
		a.log.Info("gate failed", "fail_on", rep.Gate.FailOn, "alerts", rep.Gate.Failing)
		return &pipeline.GateError{Code: o.exitCode, Failing: rep.Gate.Failing, FailOn: rep.Gate.FailOn}
	}
	return nil
}

// loadRules reads the default rules, the --rules files and --allow-net.
func loadRules(o *runFlags) (*rules.Set, error) {
	files := map[string]io.Reader{}
	var order []string
	for _, p := range o.rules {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("--rules: %w", err)
		}
		files[p] = bytes.NewReader(b)
		order = append(order, p)
	}
	if len(o.allowNet) > 0 {
		var b strings.Builder
		b.WriteString("- list: allowed_outbound\n  append: true\n  items:\n")
		for _, n := range o.allowNet {
			if strings.ContainsAny(n, "\"\n\\") {
				return nil, fmt.Errorf("--allow-net %q: not an address", n)
			}
			fmt.Fprintf(&b, "    - %q\n", n)
		}
		files["--allow-net"] = strings.NewReader(b.String())
		order = append(order, "--allow-net")
	}
	set, err := rules.Load(o.noDefaults, files, order)
	if err != nil {
		return nil, err
	}
	return set, nil
}

// writeFileAtomic writes a file through a temporary file in its directory.
func writeFileAtomic(p string, write func(io.Writer) error) error {
	if st, err := os.Stat(p); err == nil && !st.Mode().IsRegular() {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		werr := write(f)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		return werr
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".drydock-run-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}
