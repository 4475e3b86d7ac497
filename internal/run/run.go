// Package run runs an image briefly in a sandbox and records what it
// does: the processes it starts, the files it opens and changes, the names
// it resolves, the connections it attempts and the ports it listens on.
// Rules (package rules) turn that record into alerts; PackagesInUse joins
// it with an inventory.
//
// The sandbox is an OCI runtime container (runc or crun; or a Docker
// engine's container, RuntimeDocker) with its own user,
// mount, pid, network, ipc, uts and cgroup namespaces, a copy-on-write root
// file system unpacked from the image's layers, cgroup limits, Docker's
// default seccomp profile and capabilities, and a hard time limit. Its
// network namespace holds the loopback interface and a TUN device whose
// other end is drydock (package netobs): nothing is forwarded anywhere.
package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/drydockscan/drydock/internal/run/netobs"
	"github.com/drydockscan/drydock/internal/run/rootfs"
	"github.com/drydockscan/drydock/internal/run/sandbox"
	"github.com/drydockscan/drydock/internal/run/trace"
	"github.com/drydockscan/drydock/internal/source"
)

// Network modes.
const (
	NetworkObserve = "observe"
	NetworkNone    = "none"
)

// Tracer choices besides a tracer's own name.
const (
	TracerAuto = "auto"
	TracerNone = "none"
)

// Ptrace tracer modes (Result.TracerMode).
const (
	// TraceSeccomp: the sandbox's seccomp filter sends the traced calls to
	// the tracer (SCMP_ACT_TRACE); no other call stops the workload.
	TraceSeccomp = "seccomp"
	// TraceEverySyscall: the workload stops at every system call.
	TraceEverySyscall = "every-syscall"
)

// TracerFactory makes one kind of tracer; the command line passes the list
// of the tracers built in, in order of preference.
type TracerFactory struct {
	Name string
	New  func() (trace.Tracer, error)
}

// Options configure a run.
type Options struct {
	// Runtime is "runc", "crun", a path, "" for the first found, or
	// RuntimeDocker for a Docker engine.
	Runtime string
	// DockerHost is the Docker engine's API address for RuntimeDocker
	// ("" means DOCKER_HOST, else the default socket).
	DockerHost string
	// InitBinary is, for RuntimeDocker, the statically linked executable
	// bound read-only into the container as its first program: drydock
	// itself (holdinit.Main), which holds the container until the tracer
	// and the observer are attached.
	InitBinary string
	// Entrypoint replaces the image's entrypoint when not nil; Command
	// replaces its command when not nil (as docker run does).
	Entrypoint []string
	Command    []string
	// User is docker run's --user; "" is the image's user.
	User string
	// Duration is how long the image may run (default 30s).
	Duration time.Duration
	// Network is NetworkObserve (default) or NetworkNone.
	Network string
	// Pcap receives the pcapng capture of the observed network (nil for
	// none).
	Pcap io.Writer
	// Tracer is TracerAuto (the first of Tracers that attaches), a
	// tracer's name, or TracerNone.
	Tracer  string
	Tracers []TracerFactory
	// EverySyscall makes a ptrace tracer stop at every system call instead
	// of only at the traced calls a seccomp filter sends it (for
	// measurements).
	EverySyscall bool
	Limits       sandbox.Limits
	// WorkDir is where the run's files go (default the system temp dir).
	WorkDir string
	// MaxEvents caps the recorded events.
	MaxEvents int
	Logger    *slog.Logger
}

// DefaultDuration is how long an image runs unless told otherwise.
const DefaultDuration = 30 * time.Second

// DefaultMaxEvents caps recorded events.
const DefaultMaxEvents = 200000

// Result is everything a run recorded.
type Result struct {
	Runtime string
	Tracer  string
	// TracerMode is how a ptrace tracer stopped the workload: TraceSeccomp
	// or TraceEverySyscall ("" for the other tracers).
	TracerMode string
	Network    string
	// RootFS is "overlay" or "copy" (a private unpacked copy when overlay
	// cannot be mounted); RootFSContainerLayer with RuntimeDocker.
	RootFS string
	Args   []string
	User   sandbox.User
	// Exposed are the image's exposed ports ("8080/tcp").
	Exposed []string

	Started time.Time
	// Setup is the time from the start of Run to the program's start
	// (unpack, bundle, create, network, tracer).
	Setup    time.Duration
	Ran      time.Duration
	TimedOut bool
	Exit     sandbox.Exit

	Events          []trace.Event
	EventsTruncated bool
	Net             netobs.Result
	Listeners       []netobs.Listener
	Changes         []sandbox.Change
	ChangesTrunc    bool
	Counters        sandbox.Counters
	Limits          sandbox.Limits
	Output          sandbox.Output
	// Setuid lists the executed paths that carry a setuid or setgid bit.
	Setuid map[string]bool
	// Skipped are layer entries the root file system does not hold.
	Skipped []rootfs.Skipped
	// Warnings are things the user should know about the run.
	Warnings []string
	// NameOf maps a sinkhole address back to its DNS name.
	NameOf func(addr string) string
}

// Error kinds callers map to messages.
var (
	// ErrNoTracer: no tracer could be attached.
	ErrNoTracer = errors.New("no tracer")
	// ErrNoCommand: the image has nothing to run.
	ErrNoCommand = errors.New("nothing to run")
)

// idBlock picks a random 65536-id block of host ids for the sandbox's
// user namespace, away from the ids people use.
func idBlock() (uint32, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(16384-16))
	if err != nil {
		return 0, err
	}
	return uint32(n.Int64()+16) * 65536, nil
}

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "drydock-" + hex.EncodeToString(b)
}

// Run runs img in a sandbox and returns what it did.
func Run(ctx context.Context, img *source.Image, o Options) (*Result, error) {
	t0 := time.Now()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Duration <= 0 {
		o.Duration = DefaultDuration
	}
	if o.Network == "" {
		o.Network = NetworkObserve
	}
	if o.Network != NetworkObserve && o.Network != NetworkNone {
		return nil, fmt.Errorf("--network %q: want observe or none", o.Network)
	}
	if o.Tracer == "" {
		o.Tracer = TracerAuto
	}
	if o.Limits == (sandbox.Limits{}) {
		o.Limits = sandbox.DefaultLimits
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = DefaultMaxEvents
	}
	if img.Image == nil || img.Config == nil {
		return nil, fmt.Errorf("%s: drydock run needs an image with layers and a config, not a directory", img.Ref)
	}
	choice, err := chooseTracer(o)
	if err != nil {
		return nil, err
	}
	cfg := img.Config.Config
	args := slices.Clone(cfg.Entrypoint)
	if o.Entrypoint != nil {
		args = slices.Clone(o.Entrypoint)
	}
	cmd := cfg.Cmd
	if o.Entrypoint != nil && o.Command == nil {
		cmd = nil
	}
	if o.Command != nil {
		cmd = o.Command
	}
	args = append(args, cmd...)
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: the image has no entrypoint or command; give one after --", ErrNoCommand)
	}
	if o.Runtime == RuntimeDocker {
		return runDocker(ctx, img, o, choice, args, t0)
	}
	rtPath, err := sandbox.FindRuntime(o.Runtime)
	if err != nil {
		return nil, err
	}
	if err := sandbox.Check(sandbox.Needs{TUN: o.Network == NetworkObserve}); err != nil {
		return nil, err
	}
	base, err := idBlock()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(o.WorkDir, "drydock-run-")
	if err != nil {
		return nil, err
	}
	log := o.Logger
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	cleanups = append(cleanups, func() {
		if err := os.RemoveAll(work); err != nil {
			log.Warn("removing the run's directory", "dir", work, "err", err)
		}
	})
	// The runtime's init reaches the root file system as the sandbox's
	// root user: the directories above it must be searchable.
	if err := os.Chmod(work, 0o711); err != nil {
		return nil, err
	}
	dirs := map[string]string{}
	for _, d := range []string{"lower", "upper", "ovl-work", "bundle", "state"} {
		dirs[d] = filepath.Join(work, d)
		if err := os.Mkdir(dirs[d], 0o711); err != nil {
			return nil, err
		}
	}
	res := &Result{Network: o.Network, Limits: o.Limits, Setuid: map[string]bool{}, Runtime: filepath.Base(rtPath), Warnings: choice.notes}
	for p := range cfg.ExposedPorts {
		res.Exposed = append(res.Exposed, p)
	}
	sort.Strings(res.Exposed)

	ids := rootfs.IDMap{Host: int(base), Size: 65536, Overflow: 65534}
	var layers []rootfs.Layer
	for _, l := range img.Layers {
		d := ""
		if l.Digest.Hex != "" {
			d = l.Digest.String()
		}
		layers = append(layers, rootfs.Layer{Name: fmt.Sprintf("layer %d (%s)", l.Index, l.DiffID), Digest: d, DiffID: l.DiffID.String(), Open: l.Open})
	}
	tu := time.Now()
	st, err := rootfs.Unpack(ctx, dirs["lower"], layers, rootfs.Options{IDs: ids})
	if err != nil {
		return nil, fmt.Errorf("unpacking %s: %w", img.Ref, err)
	}
	res.Skipped = st.Skipped
	log.Debug("root file system unpacked", "entries", st.Entries, "bytes", st.Bytes, "duration", time.Since(tu))

	rootDir := filepath.Join(dirs["bundle"], "rootfs")
	if err := os.Mkdir(rootDir, 0o711); err != nil {
		return nil, err
	}
	if err := os.Chown(dirs["upper"], int(base), int(base)); err != nil {
		return nil, err
	}
	if lst, err := os.Stat(dirs["lower"]); err == nil {
		_ = os.Chmod(dirs["upper"], lst.Mode().Perm())
	}
	if err := sandbox.Overlay(dirs["lower"], dirs["upper"], dirs["ovl-work"], rootDir); err != nil {
		log.Info("copy-on-write overlay unavailable: the sandbox writes to its private unpacked copy", "err", err)
		res.RootFS = "copy"
		rootDir = dirs["lower"]
	} else {
		res.RootFS = "overlay"
		cleanups = append(cleanups, func() {
			if err := sandbox.Unmount(rootDir); err != nil {
				log.Warn("unmounting the sandbox's root file system", "dir", rootDir, "err", err)
			}
		})
	}

	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	userSpec := cfg.User
	if o.User != "" {
		userSpec = o.User
	}
	user, err := sandbox.ResolveUser(root, userSpec)
	if err != nil {
		return nil, err
	}
	if user.UID >= 65536 || user.GID >= 65536 {
		return nil, fmt.Errorf("--user %q: ids above 65535 are outside the sandbox's user namespace", userSpec)
	}
	res.User = user
	hostname := "sandbox"
	own, err := writeNetworkFiles(root, o.Network, hostname, int(base))
	if err != nil {
		return nil, fmt.Errorf("writing the sandbox's /etc files: %w", err)
	}

	env := slices.Clone(cfg.Env)
	if !hasEnv(env, "PATH") {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+user.Home)
	}
	env = append(env, "HOSTNAME="+hostname)
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	id := randomID()
	sopts := sandbox.SpecOptions{
		Args: args, Env: env, Cwd: cwd, UID: user.UID, GID: user.GID, Groups: user.Groups,
		Hostname: hostname, IDs: sandbox.IDRange{Host: base, Size: 65536}, Limits: o.Limits,
		CgroupsPath: "/drydock/" + id,
	}
	// The tracer's context lives until the events are read.
	tctx, tcancel := context.WithCancel(ctx)
	defer tcancel()
	var session trace.Session
	cleanups = append(cleanups, func() {
		if session != nil {
			_ = session.Close()
		}
	})
	// A tracer that stops only at the calls a seccomp filter sends it must
	// be attached before the runtime installs the filter: the gate holds
	// the init in the runtime's hook until then.
	var gate *sandbox.Gate
	if choice.seccomp && !o.EverySyscall {
		why := seccompTraceUnsupported(rtPath)
		if why == "" {
			gate, err = sandbox.NewGate(work, func(pid int) error {
				s, err := choice.tracer.Attach(tctx, trace.Target{PID: pid, SeccompTrace: true})
				session = s
				return err
			})
			if err != nil {
				why = err.Error()
			}
		}
		if why != "" {
			log.Info("the ptrace tracer stops at every system call", "why", why)
		}
	}
	if gate != nil {
		sopts.TraceSyscalls = trace.SeccompTraceSyscalls()
	}
	spec, err := sandbox.Spec(sopts)
	if err != nil {
		return nil, err
	}
	if gate != nil {
		spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{gate.Hook()}}
	}
	spec.Root.Path = rootDir
	if err := sandbox.WriteBundle(dirs["bundle"], spec); err != nil {
		return nil, err
	}
	res.Args = args

	rt := sandbox.Runtime{Path: rtPath, StateDir: dirs["state"]}
	c, err := sandbox.Create(ctx, rt, id, dirs["bundle"], gate)
	if err != nil {
		if gate != nil && gate.Err() != nil {
			// The filter needs its tracer: no other can take its place.
			return nil, fmt.Errorf("%w could be attached (%s); --tracer none runs without recording processes and files",
				ErrNoTracer, strings.Join(append(choice.errs, choice.name+": "+gate.Err().Error()), "; "))
		}
		return nil, err
	}
	killed := false
	cleanups = append(cleanups, func() {
		if !killed {
			_ = c.Kill(context.Background(), 5*time.Second)
		}
		if err := c.Delete(context.Background()); err != nil {
			log.Warn("deleting the container", "id", id, "err", err)
		}
	})

	obs, err := observeNetwork(o, c.Pid, res, &cleanups)
	if err != nil {
		return nil, err
	}
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	var listeners netobs.Listeners
	lDone := make(chan struct{})
	go func() { defer close(lDone); listeners.Poll(lctx, c.Pid, 100*time.Millisecond) }()

	switch {
	case gate != nil:
		res.Tracer, res.TracerMode = choice.name, TraceSeccomp
	case choice.tracer == nil:
		res.Tracer = TracerNone
	default:
		session, err = traced(tctx, o, choice, trace.Target{PID: c.Pid, CgroupPath: c.CgroupPath}, res)
		if err != nil {
			return nil, err
		}
	}
	events := collectEvents(session, o.MaxEvents)

	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	res.Started = time.Now()
	res.Setup = res.Started.Sub(t0)
	log.Debug("sandbox started", "id", id, "pid", c.Pid, "setup", res.Setup, "tracer", res.Tracer)

	timer := time.NewTimer(o.Duration)
	defer timer.Stop()
	var ctxErr error
	select {
	case <-c.Exited():
	case <-timer.C:
		res.TimedOut = true
	case <-ctx.Done():
		ctxErr = ctx.Err()
	}
	listeners.Read(c.Pid)
	if err := c.Kill(context.Background(), 5*time.Second); err != nil {
		res.Warnings = append(res.Warnings, err.Error())
	}
	killed = true
	res.Ran = time.Since(res.Started)
	res.Exit = c.Status()
	res.Counters = c.Counters()
	res.Output = c.Output(2 * time.Second)
	lcancel()
	<-lDone
	res.Listeners = listeners.List()
	if ctxErr != nil {
		return nil, ctxErr
	}

	res.Events, res.EventsTruncated, res.Warnings = gatherEvents(session, events, tcancel, res.Warnings)
	res.Events = fromProgram(res.Events)
	if res.Exit.Code == -1 {
		// The ptrace tracer reaped the init before the sandbox could (a
		// multi-threaded init whose leader died without an exit stop):
		// its exit event has the status.
		for _, ev := range res.Events {
			if ev.Kind == trace.KindExit && ev.PID == c.Pid {
				res.Exit = exitOf(ev.Result)
			}
		}
	}
	closeNetwork(obs, res)
	if res.RootFS == "overlay" {
		res.Changes, res.ChangesTrunc, err = sandbox.Changes(dirs["upper"], dirs["lower"], 10000, own)
		if err != nil {
			res.Warnings = append(res.Warnings, "listing the file changes: "+err.Error())
		}
	}
	resolveExecOpens(root, res.Events)
	for _, ev := range res.Events {
		if ev.Kind == trace.KindExec && ev.Path != "" {
			if _, ok := res.Setuid[ev.Path]; !ok {
				res.Setuid[ev.Path] = isSetuid(root, ev.Path)
			}
		}
	}
	for p, v := range res.Setuid {
		if !v {
			delete(res.Setuid, p)
		}
	}
	return res, nil
}

// collectEvents reads a session's events, at most max of them, until the
// session ends; the channel receives them then (nil without a session).
func collectEvents(session trace.Session, max int) chan []trace.Event {
	events := make(chan []trace.Event, 1)
	if session == nil {
		events <- nil
		return events
	}
	go func() {
		var evs []trace.Event
		trunc := false
		for ev := range session.Events() {
			if len(evs) >= max {
				trunc = true
				continue
			}
			evs = append(evs, ev)
		}
		if trunc {
			evs = append(evs, trace.Event{Kind: "truncated"})
		}
		events <- evs
	}()
	return events
}

// gatherEvents waits, once the traced tree is gone, for the events the
// tracer has left, stopping it should it not finish in time; it says
// whether they were truncated and adds to warnings what went wrong.
func gatherEvents(session trace.Session, events chan []trace.Event, cancel func(), warnings []string) ([]trace.Event, bool, []string) {
	var evs []trace.Event
	if session != nil {
		select {
		case evs = <-events:
		case <-time.After(10 * time.Second):
			cancel()
			_ = session.Close()
			select {
			case evs = <-events:
				warnings = append(warnings, "the tracer did not finish in time: the events may be incomplete")
			case <-time.After(5 * time.Second):
				warnings = append(warnings, "the tracer did not stop: no events recorded")
			}
		}
	} else {
		<-events
	}
	trunc := false
	if n := len(evs); n > 0 && evs[n-1].Kind == "truncated" {
		evs, trunc = evs[:n-1], true
	}
	return evs, trunc, warnings
}

// fromProgram drops what the runtime's init did before it executed the
// image's program (opening its exec FIFO, closing descriptors): those are
// the runtime's actions, not the image's.
func fromProgram(evs []trace.Event) []trace.Event {
	for i, e := range evs {
		if e.Kind == trace.KindExec && e.Result >= 0 {
			// The tracers report the program opened for exec just before
			// the exec: it is the image's.
			if i > 0 && evs[i-1].Kind == trace.KindOpen && evs[i-1].Access == trace.AccessExec && evs[i-1].PID == e.PID {
				i--
			}
			return evs[i:]
		}
	}
	return evs
}

// resolveExecOpens names, in the open event of each successful exec (the
// program opened for exec), the file that really ran: the program's path
// with its symbolic links resolved in the sandbox's root (python3 runs
// /usr/bin/python3.11). The exec event keeps the path as the process named
// it. The packages in use are then those of the files executed.
func resolveExecOpens(root *os.Root, evs []trace.Event) {
	for i := range evs {
		e := &evs[i]
		if e.Kind != trace.KindOpen || e.Access != trace.AccessExec || e.Result < 0 || !strings.HasPrefix(e.Path, "/") {
			continue
		}
		if rp, err := rootfs.Resolve(root, strings.TrimPrefix(e.Path, "/")); err == nil && rp != "" && "/"+rp != e.Path {
			e.Path = "/" + rp
		}
	}
}

// exitOf reads an exit event's result: the exit code, or 128+N for death
// by signal N.
func exitOf(r int) sandbox.Exit {
	e := sandbox.Exit{Code: r}
	if r > 128 && r <= 128+64 {
		e.Signal = unix.SignalName(syscall.Signal(r - 128))
	}
	return e
}

func hasEnv(env []string, k string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, k+"=") {
			return true
		}
	}
	return false
}

func isSetuid(root *os.Root, p string) bool {
	rp, err := rootfs.Resolve(root, strings.TrimPrefix(p, "/"))
	if err != nil || rp == "" {
		return false
	}
	st, err := root.Lstat(rp)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	return st.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0
}

// writeNetworkFiles gives the sandbox its /etc/hosts, /etc/hostname and,
// for the observed network, /etc/resolv.conf naming drydock's resolver.
// It returns the paths written, which are not the image's changes.
func writeNetworkFiles(root *os.Root, network, hostname string, uid int) (map[string]bool, error) {
	files := map[string]string{
		"etc/hosts":    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + hostname + "\n",
		"etc/hostname": hostname + "\n",
	}
	if network == NetworkObserve {
		files["etc/resolv.conf"] = "nameserver " + netobs.ResolverAddr.String() + "\noptions attempts:1 timeout:2\n"
	}
	etc, err := rootfs.Resolve(root, "etc")
	if err != nil {
		return nil, err
	}
	if st, err := root.Lstat(etc); err != nil || !st.IsDir() {
		if err := root.RemoveAll(etc); err != nil {
			return nil, err
		}
		if err := root.Mkdir(etc, 0o755); err != nil {
			return nil, err
		}
		if err := root.Lchown(etc, uid, uid); err != nil {
			return nil, err
		}
	}
	own := map[string]bool{}
	for name, content := range files {
		p := filepath.Join(etc, filepath.Base(name))
		if err := root.RemoveAll(p); err != nil {
			return nil, err
		}
		if err := root.WriteFile(p, []byte(content), 0o644); err != nil {
			return nil, err
		}
		if err := root.Lchown(p, uid, uid); err != nil {
			return nil, err
		}
		own["/"+p] = true
	}
	if etc != "etc" {
		own["/"+etc] = true
	}
	own["/etc"] = true
	return own, nil
}

// seccompTracer is a tracer that can stop the workload only at the calls
// a seccomp filter sends it (trace.Target.SeccompTrace): the ptrace tracer.
type seccompTracer interface{ SeccompTrace() bool }

// tracerChoice is the tracer chosen before the container is created.
type tracerChoice struct {
	name   string
	tracer trace.Tracer // nil: --tracer none
	// seccomp: the tracer can use a seccomp filter (seccompTracer).
	seccomp bool
	// rest are, for auto, the tracers after the chosen one, should it fail
	// to attach after all.
	rest []TracerFactory
	// errs say why the tracers before it cannot run; notes say it to the
	// report's reader.
	errs, notes []string
}

// tracerError says why a tracer cannot run, naming it once.
func tracerError(name string, err error) string {
	msg := err.Error()
	if !strings.HasPrefix(msg, name+" ") && !strings.HasPrefix(msg, name+":") {
		msg = name + ": " + msg
	}
	return msg
}

// chooseTracer decides, before the container exists, which tracer will
// record: the one named, or for auto the first that can run here (each
// factory checks what its tracer needs: eBPF loads and verifies its
// programs). The container's seccomp filter depends on the choice.
func chooseTracer(o Options) (tracerChoice, error) {
	if o.Tracer == TracerNone {
		return tracerChoice{name: TracerNone}, nil
	}
	if o.Tracer == TracerAuto && len(o.Tracers) == 0 {
		return tracerChoice{}, fmt.Errorf("%w: this drydock has no tracer built in; --tracer none runs without recording processes and files", ErrNoTracer)
	}
	if o.Tracer != TracerAuto && !slices.ContainsFunc(o.Tracers, func(f TracerFactory) bool { return f.Name == o.Tracer }) {
		var have []string
		for _, f := range o.Tracers {
			have = append(have, f.Name)
		}
		return tracerChoice{}, fmt.Errorf("%w: --tracer %q is not built in (have: %s)", ErrNoTracer, o.Tracer, strings.Join(append(have, TracerAuto, TracerNone), ", "))
	}
	var errs []string
	for i, f := range o.Tracers {
		if o.Tracer != TracerAuto && f.Name != o.Tracer {
			continue
		}
		tr, err := f.New()
		if err != nil {
			errs = append(errs, tracerError(f.Name, err))
			o.Logger.Info("tracer unavailable", "tracer", f.Name, "err", err)
			continue
		}
		c := tracerChoice{name: tr.Name(), tracer: tr, errs: errs}
		if st, ok := tr.(seccompTracer); ok && st.SeccompTrace() {
			c.seccomp = true
		}
		if o.Tracer == TracerAuto {
			c.rest = o.Tracers[i+1:]
		}
		for _, e := range errs {
			c.notes = append(c.notes, e+"; recorded with "+c.name)
		}
		return c, nil
	}
	return tracerChoice{}, fmt.Errorf("%w can run here (%s); --tracer none runs without recording processes and files", ErrNoTracer, strings.Join(errs, "; "))
}

// seccompTraceUnsupported says why the ptrace tracer cannot be attached
// in the runtime's createRuntime hook ("" when it can): runc runs that
// hook before its init installs the seccomp filter; crun's order has not
// been tested (crun does not run on every host's cgroup layout), so with
// crun the tracer stops at every system call instead.
func seccompTraceUnsupported(rtPath string) string {
	if name := filepath.Base(rtPath); name != "runc" {
		return "the runtime is " + name + ", not runc"
	}
	return ""
}

// observeNetwork puts the network observer into the network namespace of
// pid when the run observes it (nil otherwise); cleanups closes it.
func observeNetwork(o Options, pid int, res *Result, cleanups *[]func()) (*netobs.Observer, error) {
	if o.Network != NetworkObserve {
		return nil, nil
	}
	obs, err := netobs.Attach(pid, o.Pcap)
	if err != nil {
		return nil, err
	}
	*cleanups = append(*cleanups, func() { _ = obs.Close() })
	res.NameOf = obs.NameOf
	return obs, nil
}

// closeNetwork ends the observation (writing out the capture) and puts
// what it saw into res; without an observer, an empty record.
func closeNetwork(obs *netobs.Observer, res *Result) {
	if obs == nil {
		res.Net = netobs.Result{DNS: []netobs.DNSQuery{}, Attempts: []netobs.Attempt{}}
		return
	}
	if err := obs.Close(); err != nil {
		res.Warnings = append(res.Warnings, "writing the packet capture: "+err.Error())
	}
	res.Net = obs.Result()
}

// traced attaches the chosen tracer (see attachTracer) and records in res
// which one records and how.
func traced(ctx context.Context, o Options, c tracerChoice, t trace.Target, res *Result) (trace.Session, error) {
	session, tr, notes, err := attachTracer(ctx, o, c, t)
	if err != nil {
		return nil, err
	}
	res.Tracer, res.Warnings = tr.Name(), notes
	if st, ok := tr.(seccompTracer); ok && st.SeccompTrace() {
		res.TracerMode = TraceEverySyscall
	}
	return session, nil
}

// attachTracer attaches the chosen tracer to the created container, or
// for auto, should it fail, the next that attaches (a tracer that stops
// at every system call can take a failed one's place: the container's
// filter is Docker's). The error names why each failed.
func attachTracer(ctx context.Context, o Options, c tracerChoice, t trace.Target) (trace.Session, trace.Tracer, []string, error) {
	if c.tracer == nil {
		return nil, nil, nil, nil
	}
	s, err := c.tracer.Attach(ctx, t)
	if err == nil {
		return s, c.tracer, c.notes, nil
	}
	errs := append(slices.Clone(c.errs), tracerError(c.name, err))
	o.Logger.Info("tracer did not attach", "tracer", c.name, "err", err)
	for _, f := range c.rest {
		tr, err := f.New()
		if err == nil {
			if s, err = tr.Attach(ctx, t); err == nil {
				var notes []string
				for _, e := range errs {
					notes = append(notes, e+"; recorded with "+tr.Name())
				}
				return s, tr, notes, nil
			}
		}
		errs = append(errs, tracerError(f.Name, err))
		o.Logger.Info("tracer did not attach", "tracer", f.Name, "err", err)
	}
	return nil, nil, nil, fmt.Errorf("%w could be attached (%s); --tracer none runs without recording processes and files", ErrNoTracer, strings.Join(errs, "; "))
}
