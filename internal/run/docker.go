package run

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/drydockscan/drydock/internal/run/holdinit"
	"github.com/drydockscan/drydock/internal/run/netobs"
	"github.com/drydockscan/drydock/internal/run/sandbox"
	"github.com/drydockscan/drydock/internal/run/trace"
	"github.com/drydockscan/drydock/internal/source"
)

// RuntimeDocker runs the image in a Docker engine instead of an OCI
// runtime drydock drives itself.
const RuntimeDocker = "docker"

// RootFSContainerLayer is Result.RootFS for a Docker run: the engine's
// copy-on-write container layer.
const RootFSContainerLayer = "container-layer"

// ErrNoEngine: the Docker engine cannot be reached.
var ErrNoEngine = errors.New("no Docker engine")

// dockerStatBudget caps the engine calls that stat paths after a run
// (the programs executed, the changed entries).
const dockerStatBudget = 1000

// dockerHost is the engine's API address: the option, else DOCKER_HOST,
// else the default socket — as the docker image source finds it.
func dockerHost(o Options) string {
	if o.DockerHost != "" {
		return o.DockerHost
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return client.DefaultDockerHost
}

// staticExecutable checks that p can run in a container that holds none
// of the host's libraries: a statically linked ELF file.
func staticExecutable(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("the container's init helper %s: %w", p, err)
	}
	defer f.Close()
	for _, ph := range f.Progs {
		if ph.Type == elf.PT_INTERP {
			return fmt.Errorf("the container's init helper %s is dynamically linked: it cannot run in a container without the host's libraries (build drydock with CGO_ENABLED=0, as its release builds are)", p)
		}
	}
	return nil
}

// dockerRun is one run in a Docker engine.
type dockerRun struct {
	c    *client.Client
	host string
	log  interface {
		Warn(string, ...any)
		Debug(string, ...any)
		Info(string, ...any)
	}
	id string // the container
}

// runDocker runs img in a Docker engine: the image is the engine's (or
// loaded into it, and removed after), the container's first program is
// drydock's hold helper, which waits until the tracer and the network
// observer are attached to the container's init, then executes args.
func runDocker(ctx context.Context, img *source.Image, o Options, choice tracerChoice, args []string, t0 time.Time) (*Result, error) {
	log := o.Logger
	if o.InitBinary == "" {
		return nil, fmt.Errorf("--runtime docker: no init helper to bind into the container")
	}
	if o.Network == NetworkObserve {
		if st, err := os.Stat("/dev/net/tun"); err != nil || st.Mode()&os.ModeCharDevice == 0 {
			return nil, fmt.Errorf("%w: /dev/net/tun (the tun module) for --network observe; --network none runs without it", sandbox.ErrMissing)
		}
	}
	host := dockerHost(o)
	c, err := client.New(client.FromEnv, client.WithHost(host))
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrNoEngine, host, err)
	}
	defer c.Close()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return nil, fmt.Errorf("%w at %s (set DOCKER_HOST or --docker-host to the engine's socket, or start dockerd): %v", ErrNoEngine, host, err)
	}
	if err := staticExecutable(o.InitBinary); err != nil {
		return nil, err
	}
	d := &dockerRun{c: c, host: host, log: log}

	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	imageRef, removeImage, err := d.image(ctx, img)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, removeImage)

	cfg := img.Config.Config
	res := &Result{Network: o.Network, Limits: o.Limits, Setuid: map[string]bool{}, Runtime: RuntimeDocker,
		RootFS: RootFSContainerLayer, Warnings: choice.notes, Args: args}
	for p := range cfg.ExposedPorts {
		res.Exposed = append(res.Exposed, p)
	}
	sort.Strings(res.Exposed)

	hostname := "sandbox"
	pids := o.Limits.Pids
	hc := &container.HostConfig{
		NetworkMode: container.NetworkMode("none"),
		// Docker's default capabilities, seccomp profile and masked paths
		// apply: nothing is added, nothing is unconfined.
		SecurityOpt: []string{"no-new-privileges"},
		IpcMode:     container.IpcMode("private"),
		// CgroupnsMode "private" needs API 1.41 and cgroup v2; the engine
		// decides on other hosts.
		LogConfig: container.LogConfig{Type: "none"},
		Mounts: []mount.Mount{{
			Type: mount.TypeBind, Source: o.InitBinary, Target: holdinit.Path, ReadOnly: true,
			BindOptions: &mount.BindOptions{Propagation: mount.PropagationRPrivate},
		}},
		Resources: container.Resources{
			Memory:     o.Limits.MemoryBytes,
			MemorySwap: o.Limits.MemoryBytes,
			NanoCPUs:   int64(o.Limits.CPUs * 1e9),
			PidsLimit:  &pids,
		},
	}
	// The ptrace tracer stops only at the traced calls when the container's
	// filter sends them to it: Docker's default profile with those calls
	// marked SCMP_ACT_TRACE, as the built-in sandbox builds it, but for
	// the opens and executions the runtime makes under the filter before
	// the tracer is attached (trace.LateTraceSyscalls); the helper sends
	// those itself once released (holdinit.ReleaseTraced).
	engineTrace := choice.seccomp && !o.EverySyscall
	if engineTrace {
		var traced []string
		for _, n := range trace.SeccompTraceSyscalls() {
			if !slices.Contains(trace.LateTraceSyscalls(), n) {
				traced = append(traced, n)
			}
		}
		profile, err := sandbox.EngineTraceProfile(traced)
		if err != nil {
			return nil, err
		}
		hc.SecurityOpt = append(hc.SecurityOpt, "seccomp="+string(profile))
	}
	if o.Network == NetworkObserve {
		hc.DNS = []netip.Addr{netobs.ResolverAddr}
		hc.DNSOptions = []string{"attempts:1", "timeout:2"}
	}
	cc := &container.Config{
		Image:    imageRef,
		Hostname: hostname,
		User:     o.User, // "" is the image's user; the engine resolves names as docker run --user does
		// The helper, then the program: no Cmd, so the image's is not
		// appended.
		Entrypoint:   append([]string{holdinit.Path}, args...),
		Cmd:          []string{},
		Env:          []string{"HOSTNAME=" + hostname},
		OpenStdin:    true,
		StdinOnce:    true,
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
		Labels:       map[string]string{"org.drydockscan.run": "1"},
	}
	name := randomID()
	created, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cc, HostConfig: hc, Name: name})
	if err != nil {
		return nil, fmt.Errorf("docker engine at %s: creating the container: %w", host, err)
	}
	d.id = created.ID
	var engineWarnings []string
	for _, w := range created.Warnings {
		engineWarnings = append(engineWarnings, "docker: "+w)
	}
	cleanups = append(cleanups, d.remove)

	att, err := c.ContainerAttach(ctx, d.id, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, fmt.Errorf("docker engine at %s: attaching to the container: %w", host, err)
	}
	defer att.Close()
	out := newCappedOutput()
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		_, _ = stdcopy.StdCopy(out.stdout(), out.stderr(), att.Reader)
	}()

	if _, err := c.ContainerStart(ctx, d.id, client.ContainerStartOptions{}); err != nil {
		return nil, fmt.Errorf("docker engine at %s: starting the container: %w", host, err)
	}
	insp, err := c.ContainerInspect(ctx, d.id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("docker engine at %s: inspecting the container: %w", host, err)
	}
	if insp.Container.State == nil || insp.Container.State.Pid <= 0 {
		return nil, fmt.Errorf("docker engine at %s: the container's init is not running (held at %s): %s", host, holdinit.Path, out.stderrText())
	}
	pid := insp.Container.State.Pid
	// The pid is the engine's view: on a remote or rootless engine it is
	// not this host's process. Only the held helper may be traced.
	if cmd, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err != nil || string(bytes.SplitN(cmd, []byte{0}, 2)[0]) != holdinit.Path {
		return nil, fmt.Errorf("docker engine at %s: the container's init (pid %d as the engine says) is not a process of this host: --runtime docker needs the engine to run here, with drydock in its pid namespace", host, pid)
	}
	if u, err := procUser(pid); err == nil {
		res.User = u
	}
	cg := sandbox.CgroupsOf(pid)
	cgroupPath := ownCgroup(pid, cg.V2Path())

	obs, err := observeNetwork(o, pid, res, &cleanups)
	if err != nil {
		return nil, err
	}
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	var listeners netobs.Listeners
	var counters counterPoll
	lDone := make(chan struct{})
	go func() {
		defer close(lDone)
		go counters.poll(lctx, cg, 100*time.Millisecond)
		listeners.Poll(lctx, pid, 100*time.Millisecond)
	}()

	tctx, tcancel := context.WithCancel(ctx)
	defer tcancel()
	var session trace.Session
	cleanups = append(cleanups, func() {
		if session != nil {
			_ = session.Close()
		}
	})
	release := byte(holdinit.Release)
	switch {
	case engineTrace:
		// The filter needs its tracer: no other can take its place.
		session, err = choice.tracer.Attach(tctx, trace.Target{PID: pid, CgroupPath: cgroupPath, SeccompTrace: true})
		if err != nil {
			return nil, fmt.Errorf("%w could be attached (%s); --tracer none runs without recording processes and files",
				ErrNoTracer, strings.Join(append(choice.errs, choice.name+": "+err.Error()), "; "))
		}
		res.Tracer, res.TracerMode = choice.name, TraceSeccomp
		release = holdinit.ReleaseTraced
	case choice.tracer == nil:
		res.Tracer = TracerNone
	default:
		session, err = traced(tctx, o, choice, trace.Target{PID: pid, CgroupPath: cgroupPath}, res)
		if err != nil {
			return nil, err
		}
	}
	res.Warnings = append(res.Warnings, engineWarnings...)
	events := collectEvents(session, o.MaxEvents)

	// Release the hold: the workload starts now, traced and observed.
	wait := c.ContainerWait(context.Background(), d.id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	if _, err := att.Conn.Write([]byte{release}); err != nil {
		return nil, fmt.Errorf("docker engine at %s: releasing the container's init: %w", host, err)
	}
	_ = att.CloseWrite()
	res.Started = time.Now()
	res.Setup = res.Started.Sub(t0)
	log.Debug("container started", "id", d.id, "pid", pid, "setup", res.Setup, "tracer", res.Tracer)

	timer := time.NewTimer(o.Duration)
	defer timer.Stop()
	var ctxErr error
	exited := false
	select {
	case <-wait.Result:
		exited = true
	case err := <-wait.Error:
		res.Warnings = append(res.Warnings, "waiting for the container: "+err.Error())
	case <-timer.C:
		res.TimedOut = true
	case <-ctx.Done():
		ctxErr = ctx.Err()
	}
	listeners.Read(pid)
	counters.read(cg)
	if !exited {
		if err := d.kill(wait); err != nil {
			res.Warnings = append(res.Warnings, err.Error())
		}
	}
	res.Ran = time.Since(res.Started)
	select {
	case <-outDone:
	case <-time.After(2 * time.Second):
	}
	res.Output = out.result()
	lcancel()
	<-lDone
	res.Listeners = listeners.List()
	res.Counters = counters.get()
	if ctxErr != nil {
		return nil, ctxErr
	}
	if insp, err := c.ContainerInspect(context.Background(), d.id, client.ContainerInspectOptions{}); err == nil && insp.Container.State != nil {
		res.Exit = exitOf(insp.Container.State.ExitCode)
		if insp.Container.State.OOMKilled && res.Counters.OOMKills == 0 {
			res.Counters.OOMKills = 1
		}
	} else if err != nil {
		res.Warnings = append(res.Warnings, "reading the container's exit status: "+err.Error())
	}
	if c := res.Exit.Code; (c == holdinit.ExitNotFound || c == holdinit.ExitExec || c == holdinit.ExitNotReleased) && bytes.HasPrefix(res.Output.Stderr, []byte("drydock-init: ")) {
		// The helper's own message: the image's program never ran.
		msg, _, _ := strings.Cut(string(res.Output.Stderr), "\n")
		return nil, fmt.Errorf("%w: %s", ErrNoCommand, strings.TrimPrefix(msg, "drydock-init: "))
	}

	res.Events, res.EventsTruncated, res.Warnings = gatherEvents(session, events, tcancel, res.Warnings)
	res.Events = fromProgram(res.Events)
	closeNetwork(obs, res)
	res.Changes, res.ChangesTrunc, err = d.changes(10000)
	if err != nil {
		res.Warnings = append(res.Warnings, "listing the file changes: "+err.Error())
	}
	d.resolveExecs(res)
	return res, nil
}

// image makes img available in the engine: the engine's own image when it
// holds one with the same config digest, else img loaded from a docker
// save archive drydock writes from its layers, under a name of its own,
// removed when the run ends.
func (d *dockerRun) image(ctx context.Context, img *source.Image) (string, func(), error) {
	cfgName, err := img.Image.ConfigName()
	if err != nil {
		return "", nil, fmt.Errorf("%s: config digest: %w", img.Ref, err)
	}
	id := cfgName.String()
	if _, err := d.c.ImageInspect(ctx, id); err == nil {
		d.log.Debug("image in the engine", "id", id)
		return id, func() {}, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", nil, fmt.Errorf("docker engine at %s: inspecting image %s: %w", d.host, id, err)
	}
	tag := "drydock-run/" + strings.TrimPrefix(randomID(), "drydock-") + ":load"
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeDockerArchive(pw, img, tag)) }()
	lr, err := d.c.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err != nil {
		pr.CloseWithError(err)
		return "", nil, fmt.Errorf("docker engine at %s: loading %s: %w", d.host, img.Ref, err)
	}
	loadErr := loadStreamError(lr)
	lr.Close()
	pr.Close()
	remove := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := d.c.ImageRemove(ctx, tag, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			d.log.Warn("removing the loaded image", "image", tag, "err", err)
		}
	}
	if loadErr != nil {
		remove()
		return "", nil, fmt.Errorf("docker engine at %s: loading %s: %w", d.host, img.Ref, loadErr)
	}
	insp, err := d.c.ImageInspect(ctx, tag)
	if err != nil {
		remove()
		return "", nil, fmt.Errorf("docker engine at %s: the loaded image %s: %w", d.host, tag, err)
	}
	if insp.ID != id {
		remove()
		return "", nil, fmt.Errorf("docker engine at %s: the loaded image is %s, not %s", d.host, insp.ID, id)
	}
	return tag, remove, nil
}

// loadStreamError reads the engine's load progress and returns the error
// it reports, if any.
func loadStreamError(r io.Reader) error {
	dec := json.NewDecoder(io.LimitReader(r, 16<<20))
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
		if m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
	}
}

// writeDockerArchive writes img as a docker save archive (manifest.json,
// the config, one uncompressed tar per layer) naming it tag.
func writeDockerArchive(w io.Writer, img *source.Image, tag string) error {
	tw := tar.NewWriter(w)
	raw, err := img.Image.RawConfigFile()
	if err != nil {
		return fmt.Errorf("%s: config: %w", img.Ref, err)
	}
	cfgName, err := img.Image.ConfigName()
	if err != nil {
		return err
	}
	cfgFile := cfgName.Hex + ".json"
	if err := writeTarFile(tw, cfgFile, int64(len(raw)), bytes.NewReader(raw)); err != nil {
		return err
	}
	layers, err := img.Image.Layers()
	if err != nil {
		return fmt.Errorf("%s: layers: %w", img.Ref, err)
	}
	var names []string
	for i, l := range layers {
		diffID, err := l.DiffID()
		if err != nil {
			return fmt.Errorf("%s: layer %d: %w", img.Ref, i, err)
		}
		name := diffID.Hex + "/layer.tar"
		if err := writeLayer(tw, name, l.Uncompressed); err != nil {
			return fmt.Errorf("%s: layer %d (%s): %w", img.Ref, i, diffID, err)
		}
		names = append(names, name)
	}
	man, err := json.Marshal([]map[string]any{{"Config": cfgFile, "RepoTags": []string{tag}, "Layers": names}})
	if err != nil {
		return err
	}
	if err := writeTarFile(tw, "manifest.json", int64(len(man)), bytes.NewReader(man)); err != nil {
		return err
	}
	return tw.Close()
}

// writeLayer writes an uncompressed layer: its size is known only once
// read, so it is spooled to a temporary file first.
func writeLayer(tw *tar.Writer, name string, open func() (io.ReadCloser, error)) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.CreateTemp("", "drydock-layer-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, rc)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return writeTarFile(tw, name, n, f)
}

func writeTarFile(tw *tar.Writer, name string, size int64, r io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	_, err := io.CopyN(tw, r, size)
	return err
}

// kill ends the container: SIGKILL to its init, which takes the whole pid
// namespace with it, then waits for the engine to see it exit.
func (d *dockerRun) kill(wait client.ContainerWaitResult) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := d.c.ContainerKill(ctx, d.id, client.ContainerKillOptions{Signal: "KILL"}); err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		return fmt.Errorf("killing the container: %w", err)
	}
	select {
	case <-wait.Result:
		return nil
	case err := <-wait.Error:
		return fmt.Errorf("waiting for the container: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("the container did not stop within 15s of SIGKILL")
	}
}

// remove removes the container, killing what is left of it.
func (d *dockerRun) remove() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.c.ContainerRemove(ctx, d.id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
		d.log.Warn("removing the container", "id", d.id, "err", err)
	}
}

// stat stats a path in the (stopped) container, following a final
// symbolic link: the path the engine resolved it to (in the container's
// root), and its mode.
func (d *dockerRun) stat(p string) (string, os.FileMode, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := d.c.ContainerStatPath(ctx, d.id, client.ContainerStatPathOptions{Path: p})
	if err != nil {
		return "", 0, false
	}
	if st.Stat.Mode&os.ModeSymlink != 0 && st.Stat.LinkTarget != "" {
		t := path.Clean("/" + st.Stat.LinkTarget)
		st2, err := d.c.ContainerStatPath(ctx, d.id, client.ContainerStatPathOptions{Path: t})
		if err != nil {
			return "", 0, false
		}
		return t, st2.Stat.Mode, true
	}
	return p, st.Stat.Mode, true
}

// resolveExecs does for a Docker run what resolveExecOpens and isSetuid
// do in the built-in sandbox, through the engine (the container's root
// file system is the engine's): the program each exec's open event names
// is the file that ran, links resolved; executed setuid files are noted.
func (d *dockerRun) resolveExecs(res *Result) {
	type info struct {
		real string
		mode os.FileMode
		ok   bool
	}
	seen := map[string]info{}
	budget := dockerStatBudget
	look := func(p string) info {
		if i, ok := seen[p]; ok {
			return i
		}
		if budget <= 0 {
			return info{}
		}
		budget--
		r, m, ok := d.stat(p)
		i := info{r, m, ok}
		seen[p] = i
		return i
	}
	for i := range res.Events {
		e := &res.Events[i]
		if e.Result < 0 || !strings.HasPrefix(e.Path, "/") {
			continue
		}
		switch {
		case e.Kind == trace.KindOpen && e.Access == trace.AccessExec:
			if in := look(e.Path); in.ok && in.real != e.Path {
				e.Path = in.real
			}
		case e.Kind == trace.KindExec:
			if _, ok := res.Setuid[e.Path]; ok {
				continue
			}
			in := look(e.Path)
			if in.ok && in.mode.IsRegular() && in.mode&(os.ModeSetuid|os.ModeSetgid) != 0 {
				res.Setuid[e.Path] = true
			}
		}
	}
}

// ownPaths are the container's entries that are drydock's or the engine's,
// not the image's changes.
var ownPaths = map[string]bool{holdinit.Path: true, "/etc/hosts": true, "/etc/hostname": true, "/etc/resolv.conf": true}

// changes lists what the container changed in its layer, from the
// engine's diff; directories are told by an entry below them or by a stat.
func (d *dockerRun) changes(limit int) ([]sandbox.Change, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	diff, err := d.c.ContainerDiff(ctx, d.id, client.ContainerDiffOptions{})
	if err != nil {
		return nil, false, err
	}
	parents := map[string]bool{}
	for _, ch := range diff.Changes {
		for p := path.Dir(ch.Path); p != "/" && p != "."; p = path.Dir(p) {
			parents[p] = true
		}
	}
	out := []sandbox.Change{}
	trunc := false
	budget := dockerStatBudget
	for _, ch := range diff.Changes {
		if ownPaths[ch.Path] {
			continue
		}
		if len(out) >= limit {
			trunc = true
			break
		}
		c := sandbox.Change{Path: ch.Path, Type: "other"}
		switch ch.Kind {
		case container.ChangeAdd:
			c.Op = "created"
		case container.ChangeDelete:
			c.Op = "deleted"
		default:
			c.Op = "modified"
		}
		switch {
		case parents[ch.Path]:
			c.Type = "dir"
		case c.Op != "deleted" && budget > 0:
			budget--
			st, err := d.c.ContainerStatPath(ctx, d.id, client.ContainerStatPathOptions{Path: ch.Path})
			if err == nil {
				c.Type = changeType(st.Stat.Mode)
				if st.Stat.Mode.IsRegular() {
					c.Size = st.Stat.Size
				}
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, trunc, nil
}

func changeType(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "dir"
	case m.IsRegular():
		return "file"
	case m&os.ModeSymlink != 0:
		return "symlink"
	}
	return "other"
}

// ownCgroup is the container's cgroup v2 directory when it is the
// container's own — not shared with the engine's shim, which it is when
// the engine manages only cgroup v1 hierarchies — else "": the eBPF
// tracer then follows the tree from the init through forks only.
func ownCgroup(pid int, v2 string) string {
	if v2 == "" {
		return ""
	}
	ppid, err := procPPID(pid)
	if err != nil {
		return ""
	}
	if sandbox.CgroupsOf(ppid).V2Path() == v2 {
		return ""
	}
	return v2
}

func procPPID(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// pid (comm) state ppid …: comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return strconv.Atoi(f[1])
}

// procUser reads the ids a process runs as (the engine applied --user or
// the image's user before the helper started).
func procUser(pid int) (sandbox.User, error) {
	u := sandbox.User{Home: "/"}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return u, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		switch k {
		case "Uid", "Gid":
			if len(fs) == 0 {
				continue
			}
			n, err := strconv.ParseUint(fs[0], 10, 32)
			if err != nil {
				continue
			}
			if k == "Uid" {
				u.UID = uint32(n)
			} else {
				u.GID = uint32(n)
			}
		case "Groups":
			for _, g := range fs {
				if n, err := strconv.ParseUint(g, 10, 32); err == nil {
					u.Groups = append(u.Groups, uint32(n))
				}
			}
		}
	}
	return u, sc.Err()
}

// counterPoll keeps the container's cgroup counters as last read: the
// engine removes the cgroup as soon as the container exits.
type counterPoll struct {
	mu sync.Mutex
	c  sandbox.Counters
}

func (p *counterPoll) read(cg sandbox.Cgroups) {
	c := cg.Counters()
	p.mu.Lock()
	defer p.mu.Unlock()
	if c == (sandbox.Counters{}) {
		return // the cgroup is gone
	}
	p.c.OOMKills = max(p.c.OOMKills, c.OOMKills)
	p.c.MemoryPeakBytes = max(p.c.MemoryPeakBytes, c.MemoryPeakBytes)
	p.c.PidsLimitHits = max(p.c.PidsLimitHits, c.PidsLimitHits)
	p.c.CPUSeconds = max(p.c.CPUSeconds, c.CPUSeconds)
}

func (p *counterPoll) poll(ctx context.Context, cg sandbox.Cgroups, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		p.read(cg)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *counterPoll) get() sandbox.Counters {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.c
}

// cappedOutput keeps the first sandbox.MaxOutput bytes of each stream.
type cappedOutput struct {
	mu       sync.Mutex
	out, err []byte
	trunc    bool
}

func newCappedOutput() *cappedOutput { return &cappedOutput{} }

type capWriter struct {
	o   *cappedOutput
	dst *[]byte
}

func (w capWriter) Write(b []byte) (int, error) {
	w.o.mu.Lock()
	defer w.o.mu.Unlock()
	room := sandbox.MaxOutput - len(*w.dst)
	if len(b) > room {
		w.o.trunc = true
		*w.dst = append(*w.dst, b[:max(room, 0)]...)
	} else {
		*w.dst = append(*w.dst, b...)
	}
	return len(b), nil
}

func (o *cappedOutput) stdout() io.Writer { return capWriter{o, &o.out} }
func (o *cappedOutput) stderr() io.Writer { return capWriter{o, &o.err} }

func (o *cappedOutput) stderrText() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.TrimSpace(string(o.err))
}

func (o *cappedOutput) result() sandbox.Output {
	o.mu.Lock()
	defer o.mu.Unlock()
	return sandbox.Output{Stdout: slices.Clone(o.out), Stderr: slices.Clone(o.err), Truncated: o.trunc}
}
