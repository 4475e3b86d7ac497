// Package run runs an image briefly in a sandbox and records what it
// does: the processes it starts, the files it opens and changes, the names
// it resolves, the connections it attempts and the ports it listens on.
// Rules (package rules) turn that record into alerts; PackagesInUse joins
// it with an inventory.
//
// The sandbox is an OCI runtime container (runc or crun) with its own user,
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
	"time"

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

// TracerFactory makes one kind of tracer; the command line passes the list
// of the tracers built in, in order of preference.
type TracerFactory struct {
	Name string
	New  func() (trace.Tracer, error)
}

// Options configure a run.
type Options struct {
	// Runtime is "runc", "crun", a path, or "" for the first found.
	Runtime string
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
	Limits  sandbox.Limits
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
	Network string
	// RootFS is "overlay" or "copy" (a private unpacked copy when overlay
	// cannot be mounted).
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
	if err := checkTracerChoice(o); err != nil {
		return nil, err
	}
	rtPath, err := sandbox.FindRuntime(o.Runtime)
	if err != nil {
		return nil, err
	}
	if err := sandbox.Check(sandbox.Needs{TUN: o.Network == NetworkObserve}); err != nil {
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
	res := &Result{Network: o.Network, Limits: o.Limits, Setuid: map[string]bool{}, Runtime: filepath.Base(rtPath)}
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
	spec, err := sandbox.Spec(sandbox.SpecOptions{
		Args: args, Env: env, Cwd: cwd, UID: user.UID, GID: user.GID, Groups: user.Groups,
		Hostname: hostname, IDs: sandbox.IDRange{Host: base, Size: 65536}, Limits: o.Limits,
		CgroupsPath: "/drydock/" + id,
	})
	if err != nil {
		return nil, err
	}
	spec.Root.Path = rootDir
	if err := sandbox.WriteBundle(dirs["bundle"], spec); err != nil {
		return nil, err
	}
	res.Args = args

	rt := sandbox.Runtime{Path: rtPath, StateDir: dirs["state"]}
	c, err := sandbox.Create(ctx, rt, id, dirs["bundle"])
	if err != nil {
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

	var obs *netobs.Observer
	if o.Network == NetworkObserve {
		obs, err = netobs.Attach(c.Pid, o.Pcap)
		if err != nil {
			return nil, err
		}
		cleanups = append(cleanups, func() { _ = obs.Close() })
		res.NameOf = obs.NameOf
	}
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	var listeners netobs.Listeners
	lDone := make(chan struct{})
	go func() { defer close(lDone); listeners.Poll(lctx, c.Pid, 100*time.Millisecond) }()

	tctx, tcancel := context.WithCancel(ctx)
	defer tcancel()
	session, tracerName, err := attachTracer(tctx, o, trace.Target{PID: c.Pid, CgroupPath: c.CgroupPath})
	if err != nil {
		return nil, err
	}
	res.Tracer = tracerName
	events := make(chan []trace.Event, 1)
	if session != nil {
		cleanups = append(cleanups, func() { _ = session.Close() })
		go func() {
			var evs []trace.Event
			trunc := false
			for ev := range session.Events() {
				if len(evs) >= o.MaxEvents {
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
	} else {
		events <- nil
	}

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

	// The traced tree is gone: the tracer delivers what it has left.
	if session != nil {
		select {
		case evs := <-events:
			res.Events = evs
		case <-time.After(10 * time.Second):
			tcancel()
			_ = session.Close()
			select {
			case res.Events = <-events:
				res.Warnings = append(res.Warnings, "the tracer did not finish in time: the events may be incomplete")
			case <-time.After(5 * time.Second):
				res.Warnings = append(res.Warnings, "the tracer did not stop: no events recorded")
			}
		}
	} else {
		<-events
	}
	if n := len(res.Events); n > 0 && res.Events[n-1].Kind == "truncated" {
		res.Events = res.Events[:n-1]
		res.EventsTruncated = true
	}
	res.Events = fromProgram(res.Events)
	if obs != nil {
		if err := obs.Close(); err != nil {
			res.Warnings = append(res.Warnings, "writing the packet capture: "+err.Error())
		}
		res.Net = obs.Result()
	} else {
		res.Net = netobs.Result{DNS: []netobs.DNSQuery{}, Attempts: []netobs.Attempt{}}
	}
	if res.RootFS == "overlay" {
		res.Changes, res.ChangesTrunc, err = sandbox.Changes(dirs["upper"], dirs["lower"], 10000, own)
		if err != nil {
			res.Warnings = append(res.Warnings, "listing the file changes: "+err.Error())
		}
	}
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

// fromProgram drops what the runtime's init did before it executed the
// image's program (opening its exec FIFO, closing descriptors): those are
// the runtime's actions, not the image's.
func fromProgram(evs []trace.Event) []trace.Event {
	for i, e := range evs {
		if e.Kind == trace.KindExec && e.Result >= 0 {
			return evs[i:]
		}
	}
	return evs
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

func checkTracerChoice(o Options) error {
	switch o.Tracer {
	case TracerNone, TracerAuto:
		if o.Tracer == TracerAuto && len(o.Tracers) == 0 {
			return fmt.Errorf("%w: this drydock has no tracer built in; --tracer none runs without recording processes and files", ErrNoTracer)
		}
		return nil
	}
	for _, f := range o.Tracers {
		if f.Name == o.Tracer {
			return nil
		}
	}
	var have []string
	for _, f := range o.Tracers {
		have = append(have, f.Name)
	}
	return fmt.Errorf("%w: --tracer %q is not built in (have: %s)", ErrNoTracer, o.Tracer, strings.Join(append(have, TracerAuto, TracerNone), ", "))
}

// attachTracer attaches the chosen tracer, or for auto the first that
// attaches; the error names why each failed.
func attachTracer(ctx context.Context, o Options, t trace.Target) (trace.Session, string, error) {
	if o.Tracer == TracerNone {
		return nil, TracerNone, nil
	}
	var errs []string
	for _, f := range o.Tracers {
		if o.Tracer != TracerAuto && f.Name != o.Tracer {
			continue
		}
		tr, err := f.New()
		if err == nil {
			var s trace.Session
			s, err = tr.Attach(ctx, t)
			if err == nil {
				return s, tr.Name(), nil
			}
		}
		errs = append(errs, f.Name+": "+err.Error())
		o.Logger.Info("tracer unavailable", "tracer", f.Name, "err", err)
	}
	return nil, "", fmt.Errorf("%w could be attached (%s); --tracer none runs without recording processes and files", ErrNoTracer, strings.Join(errs, "; "))
}
