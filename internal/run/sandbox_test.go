package run_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"

	"github.com/drydockscan/drydock/internal/cli"
	"github.com/drydockscan/drydock/internal/run"
	"github.com/drydockscan/drydock/internal/run/rules"
	"github.com/drydockscan/drydock/internal/run/runreport"
	"github.com/drydockscan/drydock/internal/run/sandbox"
	"github.com/drydockscan/drydock/internal/run/trace"
	"github.com/drydockscan/drydock/internal/source"
)

const corpus = "../../../shared/corpus"

// needSandbox skips unless the sandbox can run here: root, an OCI runtime
// and the kernel features. DRYDOCK_REQUIRE_SANDBOX=1 turns the skip into a
// failure.
func needSandbox(t *testing.T) {
	t.Helper()
	skip := func(why string) {
		if os.Getenv("DRYDOCK_REQUIRE_SANDBOX") == "1" {
			t.Fatalf("sandbox required (DRYDOCK_REQUIRE_SANDBOX=1): %s", why)
		}
		t.Skip(why)
	}
	if os.Geteuid() != 0 {
		skip("the sandbox needs root")
	}
	if _, err := sandbox.FindRuntime(""); err != nil {
		skip(err.Error())
	}
	if err := sandbox.Check(sandbox.Needs{TUN: true}); err != nil {
		skip(err.Error())
	}
	isolated(t)
}

// needTracer returns the tracers built into drydock (eBPF, then ptrace).
func needTracer(t *testing.T) []run.TracerFactory {
	t.Helper()
	tr := run.BuiltinTracers()
	if len(tr) == 0 {
		t.Fatal("no tracer built in")
	}
	return tr
}

func openImage(t *testing.T, target string) *source.Image {
	t.Helper()
	img, err := source.Open(context.Background(), target, source.Options{})
	if err != nil {
		t.Fatalf("image %s: %v", target, err)
	}
	t.Cleanup(func() { img.Close() })
	return img
}

func corpusImage(t *testing.T, name string) *source.Image {
	t.Helper()
	p := filepath.Join(corpus, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus image %s: %v", name, err)
	}
	return openImage(t, p)
}

// truthConfig reads the image config the corpus recorded.
func truthConfig(t *testing.T, name string) v1.Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, name, "TRUTH.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		Image struct {
			Config v1.Config `json:"config"`
		} `json:"image"`
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	return truth.Image.Config
}

func runIt(t *testing.T, img *source.Image, o run.Options) (*run.Result, *runreport.Report) {
	t.Helper()
	if o.Duration == 0 {
		o.Duration = 10 * time.Second
	}
	res, err := run.Run(context.Background(), img, o)
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	rep := runreport.Build(runreport.Tool{Name: "drydock", Version: "test"}, runreport.Target{Ref: img.Ref}, res, set, nil, o.Duration)
	t.Logf("%s: exit %+v, setup %v, ran %v, tracer %s, %d events, alerts %d", img.Ref, res.Exit, res.Setup, res.Ran, res.Tracer, len(res.Events), len(rep.Alerts))
	if testing.Verbose() {
		var b bytes.Buffer
		_ = runreport.Write(&b, "table", rep)
		t.Log("\n" + b.String())
	}
	return res, rep
}

func execs(res *run.Result) [][]string {
	var out [][]string
	for _, e := range res.Events {
		if e.Kind == trace.KindExec && e.Result >= 0 {
			out = append(out, append([]string{e.Path}, e.Argv...))
		}
	}
	return out
}

// TestCorpusImagesRun runs corpus images with their own entrypoints and
// commands and checks the behaviour the image's config implies: the
// program from the config is what runs, as the config's user, and the
// services listen on the ports the config exposes.
func TestCorpusImagesRun(t *testing.T) {
	needSandbox(t)
	tracers := needTracer(t)
	cases := []struct {
		name, image string
		// listens: the service is expected to listen on its exposed port.
		listens bool
		// cmd replaces the image's command (nil: the image's own).
		cmd []string
	}{
		{"go service", "debian12-app", true, nil},
		{"busybox httpd", "multiarch-busybox", true, []string{"busybox", "httpd", "-f", "-p", "8080", "-h", "/srv/www"}},
		{"busybox script as nobody", "edge-layers", false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := truthConfig(t, c.image)
			img := corpusImage(t, c.image+"/oci")
			// Services run until stopped: long enough to start listening
			// on a loaded machine.
			d := 3 * time.Second
			if c.listens {
				d = 8 * time.Second
			}
			res, rep := runIt(t, img, run.Options{Tracers: tracers, Duration: d, Command: c.cmd})
			if c.cmd != nil {
				cfg.Cmd = c.cmd
			}
			want := append(slices.Clone(cfg.Entrypoint), cfg.Cmd...)
			if !slices.Equal(res.Args, want) {
				t.Errorf("ran %q, the image says %q", res.Args, want)
			}
			ex := execs(res)
			if len(ex) == 0 {
				t.Fatalf("no exec recorded")
			}
			if !slices.Equal(ex[0][1:], want) {
				t.Errorf("first exec %q, want argv %q", ex[0], want)
			}
			wantUID := uint32(0)
			if u := strings.Split(cfg.User, ":")[0]; u != "" {
				var n uint32
				if _, err := fmt.Sscan(u, &n); err == nil {
					wantUID = n
				} else {
					wantUID = res.User.UID // a name: resolved from the image's passwd
				}
			}
			if res.User.UID != wantUID {
				t.Errorf("ran as uid %d, want %d", res.User.UID, wantUID)
			}
			if c.listens {
				for p := range cfg.ExposedPorts {
					port, proto, _ := strings.Cut(p, "/")
					found := false
					for _, l := range rep.Network.Listening {
						if fmt.Sprint(l.Port) == port && strings.HasPrefix(l.Proto, proto) {
							found = true
							if !l.Exposed {
								t.Errorf("%s listed as not exposed", p)
							}
						}
					}
					if !found && port == "8080" {
						t.Errorf("not listening on exposed %s: %+v", p, rep.Network.Listening)
					}
				}
				if !res.TimedOut {
					t.Errorf("the service exited (%+v) before the run's end; stderr %s", res.Exit, res.Output.Stderr)
				}
				for _, a := range rep.Alerts {
					if a.Rule == "listen_port_not_exposed" {
						t.Errorf("alert on a port the image exposes: %+v", a)
					}
				}
			}
		})
	}
}

// TestImageCommandMissing: multiarch-busybox's own command is "httpd",
// which the image does not hold (busybox-static has no applet links for
// it): the run fails as docker run does, naming the program.
func TestImageCommandMissing(t *testing.T) {
	needSandbox(t)
	img := corpusImage(t, "multiarch-busybox/oci")
	_, err := run.Run(context.Background(), img, run.Options{Tracer: run.TracerNone})
	if !errors.Is(err, sandbox.ErrNoProgram) || !strings.Contains(err.Error(), "httpd") {
		t.Fatalf("got %v", err)
	}
}

// TestBusyboxCommands runs busybox commands given after the image.
func TestBusyboxCommands(t *testing.T) {
	needSandbox(t)
	img := corpusImage(t, "multiarch-busybox/oci")
	res, rep := runIt(t, img, run.Options{Tracers: needTracer(t), Command: []string{"sh", "-c", "echo hello from $(id -u); ls /srv/www; echo data > /tmp/f; exit 3"}})
	if res.Exit.Code != 3 {
		t.Errorf("exit %+v, want 3", res.Exit)
	}
	if !strings.Contains(string(res.Output.Stdout), "hello from 65534") {
		t.Errorf("stdout %q", res.Output.Stdout)
	}
	ex := execs(res)
	if len(ex) == 0 || ex[0][1] != "sh" {
		t.Errorf("exec of sh not recorded: %q", ex)
	}
	// busybox runs id and ls inside the shell's forks, without an exec:
	// what they read shows them.
	var read []string
	for _, f := range rep.Files.Read {
		read = append(read, f.Path)
	}
	for _, w := range []string{"/etc/passwd", "/srv/www"} {
		if !slices.Contains(read, w) {
			t.Errorf("read of %s not recorded (have %v)", w, read)
		}
	}
	found := false
	for _, f := range rep.Files.Written {
		if f.Path == "/tmp/f" {
			found = true
		}
	}
	if !found {
		t.Errorf("/tmp/f not among the files written: %+v", rep.Files.Written)
	}
	if len(rep.Alerts) != 0 {
		t.Errorf("a quiet command fired %+v", rep.Alerts)
	}
}

// buildImage makes an OCI layout: the multiarch-busybox base plus a layer
// with files, run as user with entrypoint.
func buildImage(t *testing.T, files map[string]string, modes map[string]int64, entrypoint []string, user string, exposed ...string) *source.Image {
	t.Helper()
	base := corpusImage(t, "multiarch-busybox/oci")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		mode := int64(0o755)
		if m, ok := modes[n]; ok {
			mode = m
		}
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: mode, Size: int64(len(files[n])), Typeflag: tar.TypeReg, Gid: 42}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.User = entrypoint, nil, user
	cf.Config.ExposedPorts = map[string]struct{}{}
	for _, p := range exposed {
		cf.Config.ExposedPorts[p] = struct{}{}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return openImage(t, "oci:"+dir)
}

const badScript = `#!/bin/sh
sh -c 'echo spawned a shell'
echo 'evil:x:0:0::/root:/bin/sh' >> /etc/passwd
cat /etc/shadow > /dev/null
nslookup pool.minexmr.com
nc -w 2 192.0.2.1 4444 </dev/null
exit 0
`

func alertsByRule(rep *runreport.Report) map[string][]rules.Alert {
	m := map[string][]rules.Alert{}
	for _, a := range rep.Alerts {
		m[a.Rule] = append(m[a.Rule], a)
	}
	return m
}

// alertCheck returns a check that rule fired with evidence ok accepts
// (what describes that evidence in the failure).
func alertCheck(t *testing.T, rep *runreport.Report) func(rule string, ok func(rules.Evidence) bool, what string) {
	got := alertsByRule(rep)
	return func(rule string, ok func(rules.Evidence) bool, what string) {
		t.Helper()
		for _, a := range got[rule] {
			if ok(a.Evidence) {
				return
			}
		}
		t.Errorf("rule %s did not fire with %s; alerts: %+v", rule, what, got[rule])
	}
}

// TestMisbehavingImage builds an image that spawns a shell, rewrites
// /etc/passwd, reads /etc/shadow, resolves a mining pool's name and
// connects to 192.0.2.1:4444, and checks that each rule fires with the
// evidence of what was done; as an unprivileged user the refused write
// still fires, with its errno. The packet capture is read back with
// tshark.
func TestMisbehavingImage(t *testing.T) {
	needSandbox(t)
	for _, tr := range needTracer(t) {
		t.Run(tr.Name, func(t *testing.T) { misbehaving(t, tr) })
	}
}

// misbehaving runs the misbehaving image with one tracer, forced.
func misbehaving(t *testing.T, tr run.TracerFactory) {
	tracers := []run.TracerFactory{tr}
	img := buildImage(t, map[string]string{"bad.sh": badScript, "etc/shadow": "root:*:19000:0:99999:7:::\n"},
		map[string]int64{"etc/shadow": 0o640}, []string{"/bin/sh", "/bad.sh"}, "")
	pcapPath := filepath.Join(t.TempDir(), "run.pcapng")
	pcap, err := os.Create(pcapPath)
	if err != nil {
		t.Fatal(err)
	}
	res, rep := runIt(t, img, run.Options{Tracer: tr.Name, Tracers: tracers, Pcap: pcap})
	pcap.Close()
	if res.Tracer != tr.Name || rep.Tracer != tr.Name {
		t.Errorf("tracer used: %q (report %q), want %q", res.Tracer, rep.Tracer, tr.Name)
	}
	if tr.Name == "ptrace" && (res.TracerMode != run.TraceSeccomp || rep.Run.TracerMode != run.TraceSeccomp) {
		t.Errorf("ptrace mode %q (report %q), want %q", res.TracerMode, rep.Run.TracerMode, run.TraceSeccomp)
	}
	if res.Exit.Code != 0 {
		t.Errorf("exit %+v; stderr %s", res.Exit, res.Output.Stderr)
	}
	check := alertCheck(t, rep)
	check("shell_spawned", func(e rules.Evidence) bool {
		return len(e.Argv) >= 2 && e.Argv[0] == "sh" && e.Argv[1] == "-c" && e.PID != 0
	}, "argv sh -c …")
	check("write_below_system_dir", func(e rules.Evidence) bool { return e.Path == "/etc/passwd" && e.Source != "" }, "path /etc/passwd")
	check("read_sensitive_file", func(e rules.Evidence) bool { return e.Path == "/etc/shadow" && e.Error == "" && e.PID != 0 }, "path /etc/shadow, read")
	check("outbound_connection_not_allowed", func(e rules.Evidence) bool { return e.Address == "192.0.2.1" && e.Port == 4444 }, "192.0.2.1:4444")
	check("mining_pool_port", func(e rules.Evidence) bool { return e.Address == "192.0.2.1" && e.Port == 4444 }, "192.0.2.1:4444")
	check("mining_pool_dns", func(e rules.Evidence) bool { return e.Name == "pool.minexmr.com" }, "pool.minexmr.com")
	// The sinkhole answer is what the observer recorded.
	if len(rep.Network.DNS) == 0 || rep.Network.DNS[0].Name != "pool.minexmr.com" || rep.Network.DNS[0].Answer == "" {
		t.Errorf("DNS: %+v", rep.Network.DNS)
	}
	// The write really happened inside the sandbox's copy-on-write layer.
	modified := false
	for _, c := range res.Changes {
		if c.Path == "/etc/passwd" && c.Op == "modified" {
			modified = true
		}
	}
	if !modified {
		t.Errorf("/etc/passwd not among the changes: %+v", res.Changes)
	}

	t.Run("pcap", func(t *testing.T) {
		if _, err := exec.LookPath("tshark"); err != nil {
			if os.Getenv("DRYDOCK_REQUIRE_SANDBOX") == "1" {
				t.Fatal("tshark missing")
			}
			t.Skip("tshark is not installed")
		}
		out, err := exec.Command("tshark", "-r", pcapPath, "-T", "fields", "-E", "separator=|",
			"-e", "ip.dst", "-e", "tcp.dstport", "-e", "tcp.flags.syn", "-e", "dns.qry.name", "-e", "dns.a").CombinedOutput()
		if err != nil {
			t.Fatalf("tshark -r: %v\n%s", err, out)
		}
		text := string(out)
		if !strings.Contains(text, "192.0.2.1|4444|1|") {
			t.Errorf("no SYN to 192.0.2.1:4444 in the capture:\n%s", text)
		}
		if !strings.Contains(text, "pool.minexmr.com") {
			t.Errorf("no DNS query for pool.minexmr.com in the capture:\n%s", text)
		}
	})

	t.Run("refused write as nobody", func(t *testing.T) {
		res, rep := runIt(t, img, run.Options{Tracer: tr.Name, Tracers: tracers, User: "65534"})
		_ = res
		found := false
		for _, a := range alertsByRule(rep)["write_below_system_dir"] {
			if a.Evidence.Path == "/etc/passwd" && a.Evidence.Error == "EACCES" && a.Evidence.Result != nil && *a.Evidence.Result == -13 {
				found = true
			}
		}
		if !found {
			t.Errorf("the refused write to /etc/passwd did not fire with EACCES: %+v", alertsByRule(rep)["write_below_system_dir"])
		}
		for _, a := range alertsByRule(rep)["read_sensitive_file"] {
			if a.Evidence.Path == "/etc/shadow" && a.Evidence.Error != "EACCES" {
				t.Errorf("reading /etc/shadow as nobody should be refused: %+v", a.Evidence)
			}
		}
	})
}

// TestQuietImage: a program that only does its job fires no rule.
func TestQuietImage(t *testing.T) {
	needSandbox(t)
	img := buildImage(t, map[string]string{"app.sh": "#!/bin/sh\necho serving\nls /srv/www >/dev/null\nexec httpd -f -p 8080 -h /srv/www\n"}, nil,
		[]string{"/bin/sh", "/app.sh"}, "65534", "8080/tcp")
	for _, tr := range needTracer(t) {
		t.Run(tr.Name, func(t *testing.T) {
			res, rep := runIt(t, img, run.Options{Tracer: tr.Name, Tracers: []run.TracerFactory{tr}, Duration: 5 * time.Second})
			if res.Tracer != tr.Name {
				t.Errorf("tracer used: %q, want %q", res.Tracer, tr.Name)
			}
			if len(res.Events) == 0 {
				t.Errorf("%s recorded nothing: a quiet result would prove nothing", tr.Name)
			}
			if len(rep.Alerts) != 0 {
				t.Errorf("a quiet image fired: %+v", rep.Alerts)
			}
			if len(rep.Network.Listening) != 1 || rep.Network.Listening[0].Port != 8080 {
				t.Errorf("listening: %+v", rep.Network.Listening)
			}
		})
	}
}

// TestEscapes tries to get out of the sandbox, with each tracer: every
// attempt fails, and the report says what was tried.
func TestEscapes(t *testing.T) {
	needSandbox(t)
	tracers := needTracer(t)
	// A "host" service on the loopback of the test's namespace.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	hostPort := ln.Addr().(*net.TCPAddr).Port
	hostDir := t.TempDir()
	hostFile := filepath.Join(hostDir, "owned")

	cases := []struct {
		name   string
		script string
		opts   run.Options
		check  func(t *testing.T, res *run.Result, rep *runreport.Report)
	}{
		{"write to a host path", fmt.Sprintf("mkdir -p %s && echo pwned > %s; echo x > /proc/sysrq-trigger; exit 0", hostDir, hostFile), run.Options{},
			func(t *testing.T, res *run.Result, rep *runreport.Report) {
				if _, err := os.Stat(hostFile); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the host file exists: %v", err)
				}
				found := false
				for _, f := range rep.Files.Written {
					if f.Path == hostFile && f.Source == rules.SourceFiles {
						found = true
					}
				}
				if !found {
					t.Errorf("the write landed nowhere the report shows: %+v", rep.Files.Written)
				}
			}},
		{"connect to a host loopback service", fmt.Sprintf("nc -w 1 127.0.0.1 %d </dev/null; nc -w 1 169.254.89.1 %d </dev/null; exit 0", hostPort, hostPort), run.Options{},
			func(t *testing.T, res *run.Result, rep *runreport.Report) {
				if n := accepted.Load(); n != 0 {
					t.Errorf("the host service accepted %d connection(s)", n)
				}
				refused := false
				for _, e := range res.Events {
					if e.Kind == trace.KindConnect && e.Addr == "127.0.0.1" && e.Port == hostPort && e.Result == -111 {
						refused = true
					}
				}
				if !refused {
					t.Errorf("the refused loopback connect is not recorded")
				}
				seen := false
				for _, c := range rep.Network.Connections {
					if c.Address == "169.254.89.1" && c.Port == hostPort {
						seen = true
					}
				}
				if !seen {
					t.Errorf("the attempt through the sandbox's network is not reported: %+v", rep.Network.Connections)
				}
			}},
		{"fork bomb", "bomb() { bomb | bomb & }; bomb; sleep 2", run.Options{Duration: 4 * time.Second, Limits: sandbox.Limits{MemoryBytes: 256 << 20, CPUs: 1, Pids: 64}},
			func(t *testing.T, res *run.Result, rep *runreport.Report) {
				if res.Counters.PidsLimitHits == 0 {
					t.Errorf("no fork was refused: %+v", res.Counters)
				}
				if len(alertsByRule(rep)["resource_limit_hit"]) == 0 {
					t.Errorf("the pid limit is not reported as an alert")
				}
			}},
		{"fill memory", "dd if=/dev/zero of=/dev/null bs=200M count=1; echo survived", run.Options{Limits: sandbox.Limits{MemoryBytes: 64 << 20, CPUs: 1, Pids: 64}},
			func(t *testing.T, res *run.Result, rep *runreport.Report) {
				if res.Counters.OOMKills == 0 {
					t.Errorf("no OOM kill: %+v, stdout %q", res.Counters, res.Output.Stdout)
				}
				if len(alertsByRule(rep)["resource_limit_hit"]) == 0 {
					t.Errorf("the memory limit is not reported as an alert")
				}
			}},
		{"sleep past the timeout", "sleep 1000", run.Options{Duration: 2 * time.Second},
			func(t *testing.T, res *run.Result, rep *runreport.Report) {
				if !res.TimedOut || !rep.Run.TimedOut {
					t.Errorf("not stopped at the run's end")
				}
				if res.Exit.Signal != "SIGKILL" {
					t.Errorf("exit %+v, want killed", res.Exit)
				}
				if res.Ran > 30*time.Second {
					t.Errorf("ran %v", res.Ran)
				}
			}},
	}
	for _, tr := range tracers {
		t.Run(tr.Name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					accepted.Store(0)
					img := corpusImage(t, "multiarch-busybox/oci")
					o := c.opts
					o.Tracer, o.Tracers = tr.Name, []run.TracerFactory{tr}
					o.User = "0"
					o.Command = []string{"sh", "-c", c.script}
					res, rep := runIt(t, img, o)
					if res.Tracer != tr.Name {
						t.Errorf("tracer %q, want %q", res.Tracer, tr.Name)
					}
					c.check(t, res, rep)
				})
			}
		})
	}
}

// TestTracerChoice: auto takes the first tracer that can run and says why
// it passed over the others; a tracer chosen before the container exists
// that then fails to attach gives way to the next; a named tracer that is
// not built in, or no tracer at all, is an error naming what is missing.
// With the real tracers: without the kernel's BTF auto records with ptrace
// (in its seccomp mode), and with ptrace refused too the run fails with
// exit 2 naming both.
func TestTracerChoice(t *testing.T) {
	needSandbox(t)
	tracers := needTracer(t)
	failing := run.TracerFactory{Name: "failing", New: func() (trace.Tracer, error) { return nil, errors.New("BPF not permitted here") }}
	img := corpusImage(t, "multiarch-busybox/oci")
	quick := []string{"sh", "-c", "exit 0"}
	t.Run("auto passes over a tracer that cannot run", func(t *testing.T) {
		res, rep := runIt(t, img, run.Options{Tracers: append([]run.TracerFactory{failing}, tracers...), Command: quick})
		if res.Tracer != tracers[0].Name || rep.Tracer != tracers[0].Name {
			t.Errorf("auto chose %q, want the fallback %q", res.Tracer, tracers[0].Name)
		}
		if len(execs(res)) == 0 {
			t.Errorf("the fallback recorded nothing")
		}
		if !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "BPF not permitted here") }) {
			t.Errorf("the report does not say why the first tracer was passed over: %q", rep.Warnings)
		}
	})
	t.Run("a tracer that does not attach gives way", func(t *testing.T) {
		broken := run.TracerFactory{Name: "broken", New: func() (trace.Tracer, error) { return attachFails{}, nil }}
		last := tracers[len(tracers)-1]
		res, rep := runIt(t, img, run.Options{Tracers: []run.TracerFactory{broken, last}, Command: quick})
		if res.Tracer != last.Name || len(execs(res)) == 0 {
			t.Errorf("tracer %q with %d execs, want %q recording", res.Tracer, len(execs(res)), last.Name)
		}
		if last.Name == "ptrace" && res.TracerMode != run.TraceEverySyscall {
			t.Errorf("ptrace after a tracer chosen before the container: mode %q, want %q (the filter is Docker's)", res.TracerMode, run.TraceEverySyscall)
		}
		if !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "no attaching here") }) {
			t.Errorf("the report does not say why the first tracer failed: %q", rep.Warnings)
		}
	})
	t.Run("no tracer can run", func(t *testing.T) {
		_, err := run.Run(context.Background(), img, run.Options{Tracers: []run.TracerFactory{failing}, Command: quick})
		if !errors.Is(err, run.ErrNoTracer) || !strings.Contains(err.Error(), "BPF not permitted here") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("not built in", func(t *testing.T) {
		_, err := run.Run(context.Background(), img, run.Options{Tracer: "dtrace", Tracers: tracers, Command: quick})
		if !errors.Is(err, run.ErrNoTracer) || !strings.Contains(err.Error(), `"dtrace"`) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("none", func(t *testing.T) {
		res, rep := runIt(t, img, run.Options{Tracer: run.TracerNone, Command: quick})
		if res.Tracer != run.TracerNone || len(res.Events) != 0 || len(rep.Warnings) == 0 {
			t.Errorf("--tracer none: tracer %q, %d events, warnings %v", res.Tracer, len(res.Events), rep.Warnings)
		}
	})
	t.Run("without BTF auto takes ptrace", func(t *testing.T) {
		childTest(t, "TestTracerWithoutBTF", hideBTFEnv)
	})
	t.Run("without BTF or ptrace the run fails with exit 2", func(t *testing.T) {
		childTest(t, "TestTracerWithoutAny", hideBTFEnv, denyPtraceEnv)
	})
}

// attachFails is a tracer that can run here but does not attach.
type attachFails struct{}

func (attachFails) Name() string { return "broken" }
func (attachFails) Attach(context.Context, trace.Target) (trace.Session, error) {
	return nil, errors.New("no attaching here")
}

// The child tests of TestTracerChoice run in a process of their own, in a
// mount namespace of its own, where the kernel's BTF can be hidden (eBPF
// cannot run) and, with denyPtraceEnv, ptrace(2) is refused by a seccomp
// filter (the ptrace tracer cannot run).
const (
	hideBTFEnv    = "DRYDOCK_TEST_HIDE_BTF"
	denyPtraceEnv = "DRYDOCK_TEST_DENY_PTRACE"
)

// childTest runs one test of this binary in a new mount namespace with
// env set, and requires it to pass (not to skip).
func childTest(t *testing.T, name string, env ...string) {
	t.Helper()
	cmd := exec.Command("/proc/self/exe", "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd.Env = os.Environ()
	for _, e := range env {
		cmd.Env = append(cmd.Env, e+"=1")
	}
	// Go makes the new namespace's mounts private before it executes the
	// child: nothing it mounts reaches the host's namespace.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	t.Logf("%s:\n%s", name, out)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s did not pass (skipped?)", name)
	}
}

// childOnly skips a child test unless TestTracerChoice started it.
func childOnly(t *testing.T, env ...string) {
	t.Helper()
	for _, e := range env {
		if os.Getenv(e) != "1" {
			t.Skipf("run by TestTracerChoice (%s)", e)
		}
	}
}

// btfDirs are the places the eBPF loader looks for the kernel's BTF.
var btfDirs = []string{"/sys/kernel/btf", "/boot", "/lib/modules", "/usr/lib/modules", "/usr/lib/debug"}

// hideBTF mounts an empty file system over each of btfDirs, in the child's
// own mount namespace, and returns the function that uncovers them. (The
// runtime cannot run while they are hidden: a user namespace may mount a
// new sysfs only where the whole of sysfs is visible.)
func hideBTF(t *testing.T) func() {
	t.Helper()
	if os.Getenv(hideBTFEnv) != "1" {
		t.Fatal("hideBTF outside a child test's mount namespace")
	}
	var hidden []string
	for _, d := range btfDirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			continue
		}
		if err := unix.Mount("tmpfs", d, "tmpfs", unix.MS_RDONLY, "size=4k"); err != nil {
			t.Fatalf("hiding %s: %v", d, err)
		}
		hidden = append(hidden, d)
	}
	return func() {
		for _, d := range hidden {
			if err := unix.Unmount(d, 0); err != nil {
				t.Errorf("uncovering %s: %v", d, err)
			}
		}
	}
}

// denyPtrace installs, on every thread of this process (and so on all it
// starts), a seccomp filter that refuses ptrace(2) with EPERM.
func denyPtrace() error {
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	prog := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0), // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: uint32(unix.SYS_PTRACE)},
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM)),
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ALLOW),
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	if e != 0 {
		return e
	}
	return nil
}

// TestTracerWithoutBTF (a child of TestTracerChoice): the built-in eBPF
// tracer, asked while the kernel's BTF is hidden, cannot run; auto then
// records with the built-in ptrace tracer, in its seccomp mode, and the
// report says why.
func TestTracerWithoutBTF(t *testing.T) {
	childOnly(t, hideBTFEnv)
	needSandbox(t)
	var tracers []run.TracerFactory
	for _, f := range run.BuiltinTracers() {
		if f.Name == "ebpf" {
			real := f.New
			f.New = func() (trace.Tracer, error) {
				defer hideBTF(t)()
				return real()
			}
		}
		tracers = append(tracers, f)
	}
	img := corpusImage(t, "multiarch-busybox/oci")
	res, rep := runIt(t, img, run.Options{Tracers: tracers, Command: []string{"sh", "-c", "cat /etc/passwd >/dev/null"}})
	if res.Tracer != "ptrace" || res.TracerMode != run.TraceSeccomp {
		t.Errorf("auto chose %q (%q), want ptrace (%q)", res.Tracer, res.TracerMode, run.TraceSeccomp)
	}
	if !slices.ContainsFunc(rep.Files.Read, func(f run.FileUse) bool { return f.Path == "/etc/passwd" }) {
		t.Errorf("ptrace did not record the read of /etc/passwd: %+v", rep.Files.Read)
	}
	if !slices.ContainsFunc(rep.Warnings, func(w string) bool {
		return strings.Contains(w, "no kernel BTF") && strings.Contains(w, "recorded with ptrace")
	}) {
		t.Errorf("the report does not say why eBPF was passed over: %q", rep.Warnings)
	}
}

// TestTracerWithoutAny (a child of TestTracerChoice): with the kernel's
// BTF hidden and ptrace(2) refused, drydock run exits 2 before it creates
// anything, naming what each tracer lacks.
func TestTracerWithoutAny(t *testing.T) {
	childOnly(t, hideBTFEnv, denyPtraceEnv)
	needSandbox(t)
	defer hideBTF(t)()
	if err := denyPtrace(); err != nil {
		t.Fatalf("seccomp filter refusing ptrace: %v", err)
	}
	img := corpusImage(t, "multiarch-busybox/oci")
	code, out, errOut := drydock(t, "run", img.Ref, "--duration", "5s", "--", "sh", "-c", "exit 0")
	t.Logf("drydock run: exit %d\n%s", code, errOut)
	if code != cli.ExitError {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, cli.ExitError, out, errOut)
	}
	for _, want := range []string{"no tracer", "ebpf unavailable: no kernel BTF", "ptrace unavailable: the ptrace system call is refused", "--tracer none"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the error does not say %q:\n%s", want, errOut)
		}
	}
}

// TestMissingRuntime: a runtime that is not there is an error naming it.
func TestMissingRuntime(t *testing.T) {
	img := corpusImage(t, "multiarch-busybox/oci")
	_, err := run.Run(context.Background(), img, run.Options{Runtime: "/nonexistent/runc", Tracer: run.TracerNone})
	if !errors.Is(err, sandbox.ErrMissing) || !strings.Contains(err.Error(), "/nonexistent/runc") {
		t.Fatalf("got %v", err)
	}
}

// TestNetworkNone: without the observer the sandbox has only its loopback.
func TestNetworkNone(t *testing.T) {
	needSandbox(t)
	img := corpusImage(t, "multiarch-busybox/oci")
	res, rep := runIt(t, img, run.Options{Tracer: run.TracerNone, Network: run.NetworkNone,
		Command: []string{"sh", "-c", "cat /proc/net/dev; nc -w 1 192.0.2.1 4444 </dev/null; exit 0"}})
	out := string(res.Output.Stdout)
	if strings.Contains(out, "tun0") || !strings.Contains(out, "lo:") {
		t.Errorf("interfaces:\n%s", out)
	}
	if !strings.Contains(string(res.Output.Stderr), "unreachable") {
		t.Errorf("nc: %s", res.Output.Stderr)
	}
	if rep.Network.Packets != 0 || len(rep.Network.Connections) != 0 {
		t.Errorf("network: %+v", rep.Network)
	}
}

// TestRuntimes runs the same command with each OCI runtime installed.
func TestRuntimes(t *testing.T) {
	needSandbox(t)
	img := corpusImage(t, "multiarch-busybox/oci")
	for _, rt := range []string{"runc", "crun"} {
		t.Run(rt, func(t *testing.T) {
			if _, err := exec.LookPath(rt); err != nil {
				t.Skipf("%s is not installed", rt)
			}
			res, err := run.Run(context.Background(), img, run.Options{Runtime: rt, Tracer: run.TracerNone, Command: []string{"sh", "-c", "echo ok"}})
			if err != nil && strings.Contains(err.Error(), "hybrid mode not supported") {
				// crun refuses hosts whose cgroup v2 hierarchy sits beside
				// v1 controllers; runc runs there.
				t.Skipf("%s cannot run on this host's cgroup layout: %v", rt, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Runtime != rt || strings.TrimSpace(string(res.Output.Stdout)) != "ok" {
				t.Errorf("%s: runtime %s, stdout %q, stderr %q", rt, res.Runtime, res.Output.Stdout, res.Output.Stderr)
			}
		})
	}
}
